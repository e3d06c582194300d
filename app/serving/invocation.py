"""One call of an agent through the cache and the models, its record redacted and ready.

Shared by every caller: `/v1` and MCP (which hand the record to the execution writer) and
job items (which store it in the same transaction as the item's result).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from app.executions.redaction import redact_record
from app.files.intake import Upload
from app.serving.cache import cache_policy
from app.serving.cached_call import serve_cached
from app.serving.context import Runtime
from app.serving.live import AgentVersion
from app.serving.pipeline import CallResult, execute


async def run_call(
    agent: AgentVersion,
    payload: Any,
    runtime: Runtime,
    *,
    api_key_id: uuid.UUID | None,
    request_id: str | None,
    deadline_s: float | None = None,
    fresh: bool = False,
    uploads: Sequence[Upload] = (),
) -> tuple[CallResult, bool]:
    """The result of one call (record redacted, not yet stored) and whether it used the cache.

    A bad file input raises its 4xx problem before any model is asked.
    """
    # Files (issue 11): references with the file's hash replace the bytes, so the record
    # and the cache key hold the hash; the prepared text and images travel as attachments.
    payload, attachments = await runtime.documents.prepare(
        agent.compiled.file_fields, payload, uploads
    )
    run = partial(
        execute,
        agent,
        payload,
        services=runtime.services,
        request_id=request_id,
        deadline_s=deadline_s,
        attachments=attachments,
    )
    # --- response cache (issue 4): a hit, or one model call shared by identical requests ---
    policy = cache_policy(
        agent,
        default_model=runtime.services.options.default_model,
        default_ttl_s=runtime.cache.default_ttl_s,
        offline=runtime.services.catalog.offline,
    )
    if policy is None:
        result = await run()
    else:
        result = await serve_cached(
            runtime.cache, agent, payload, policy, run, fresh=fresh, request_id=request_id
        )
    # --- end response cache ---
    record = result.record
    record.api_key_id = api_key_id  # so an invoke key can read back its own calls
    redact_record(
        record,
        agent.compiled.input_schema,
        agent.compiled.output_schema,
        sensitive_input=agent.sensitive_input,
        sensitive_output=agent.sensitive_output,
    )
    return result, policy is not None
