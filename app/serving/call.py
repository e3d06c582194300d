"""One call of an agent, from start to finish, for every caller.

prepare files → response cache → budget → route through the models → repair/validate →
redact → record. `/v1`, MCP, jobs, the playground, test runs, the LLM judge and the case
writer all call `call`; the execution record is started and finished here and nowhere else.
What differs between callers is a row of `CONDUCT`, not a second path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from app.core.errors import ProblemError
from app.executions.record import Arm, ExecutionRecord, Source, finish_record, start_record
from app.executions.redaction import redact_record
from app.files.intake import Attachments, Upload
from app.observability.calls import record_call
from app.routing.services import CallServices
from app.serving.cache import cache_policy
from app.serving.cached_call import Shared, serve_cached
from app.serving.context import CallContext
from app.serving.live import AgentVersion
from app.serving.pipeline import execute, model_tiers
from app.serving.result import CallResult


@dataclass(frozen=True)
class Conduct:
    """What a call from one source does besides asking the models."""

    cached: bool  # answered from, and stored in, the response cache
    recorded: bool  # its record goes to the execution writer here
    observed: bool  # counted in the call metrics and logged as one line here
    stored_files: bool  # its file fields may hold references to stored files


_LIVE = Conduct(cached=True, recorded=True, observed=True, stored_files=False)
CONDUCT: dict[Source, Conduct] = {
    "api": _LIVE,
    "mcp": _LIVE,
    "playground": _LIVE,
    # A job stores the record with its item, in the item's transaction, then observes it.
    "job": Conduct(cached=True, recorded=False, observed=False, stored_files=False),
    # A test asks the model every time (a cached answer is no evidence) and keeps a record;
    # its calls are counted under their own source, apart from production traffic.
    "test": Conduct(cached=False, recorded=True, observed=True, stored_files=True),
    # A model matrix tries the suite on one model: like a test, never from the cache.
    "matrix": Conduct(cached=False, recorded=True, observed=True, stored_files=True),
    # Calls the platform makes for itself: no cache, not part of the execution log.
    "judge": Conduct(cached=False, recorded=False, observed=False, stored_files=False),
    "case-writer": Conduct(cached=False, recorded=False, observed=False, stored_files=False),
    # A candidate beside live: always asked (a cached answer compares nothing), recorded
    # for the comparison, counted under its own source, apart from production traffic.
    "shadow": Conduct(cached=False, recorded=True, observed=True, stored_files=False),
}


async def call(
    context: CallContext,
    agent: AgentVersion,
    payload: Any,
    *,
    source: Source,
    api_key_id: uuid.UUID | None = None,
    request_id: str | None = None,
    deadline_s: float | None = None,
    fresh: bool = False,
    uploads: Sequence[Upload] = (),
    model_override: str | None = None,
    execution_id: uuid.UUID | None = None,
    arm: Arm | None = None,
) -> CallResult:
    """Run one call of `agent` on `payload` and finish its record (redacted).

    Never raises for model trouble: the result holds the output or the problem. A bad file
    in a request raises its 4xx problem before any model is asked; a bad stored file (a
    test case's) is a failed, recorded call instead. `execution_id` names the record when
    the caller has one already (a job item's); the record's latency covers the whole call,
    files and cache included, while the model deadline starts when the models are asked.
    `arm` says which release answered (a label, a rollout's arm, a shadow).
    """
    conduct = CONDUCT[source]
    clock = context.services.clock
    started = clock.monotonic()
    fields = agent.compiled.file_fields
    try:
        # A file's bytes are replaced by a reference holding its hash, so the record and the
        # cache key hold the hash; the prepared text and images travel as attachments.
        prepared, attachments = (
            (payload, None)
            if not fields and not uploads  # most agents take no files: nothing to await
            else await context.files.prepare_stored(fields, payload)
            if conduct.stored_files
            else await context.files.prepare(fields, payload, uploads)
        )
    except ProblemError as refusal:
        if not conduct.stored_files:
            raise
        record = start_record(
            agent.name,
            agent.version,
            payload,
            request_id=request_id,
            source=source,
            execution_id=execution_id,
        )
        result = CallResult(record, None, refusal)
    else:
        record = start_record(
            agent.name,
            agent.version,
            prepared,
            request_id=request_id,
            source=source,
            execution_id=execution_id,
        )
        result = await _answer(
            context, agent, prepared, record, conduct, attachments,
            fresh=fresh, deadline_s=deadline_s, model_override=model_override,
        )  # fmt: skip
    if record.model and model_override is None and agent_is_auto(agent):
        record.model_choice = "auto"  # chosen by the model matrix, cache hits included
    problem = result.problem
    error = problem.problem(request_id) if problem is not None else None
    latency_ms = (clock.monotonic() - started) * 1000
    finish_record(record, output=result.output, error=error, latency_ms=latency_ms)
    record.api_key_id = api_key_id  # so an invoke key can read back its own calls
    if arm is not None:
        record.arm = arm
    redact_record(
        record,
        agent.compiled.input_schema,
        agent.compiled.output_schema,
        sensitive_input=agent.sensitive_input,
        sensitive_output=agent.sensitive_output,
    )
    if conduct.recorded and context.writer is not None:
        context.writer.submit(record)
    if conduct.observed:
        status = problem.status if problem is not None else 200
        record_call(record, status=status, cached=result.cached)
    return result


def agent_is_auto(agent: AgentVersion) -> bool:
    """Whether the version's models are its model matrix's choice."""
    choice = agent.document.model
    return choice is not None and choice.auto and bool(agent.auto_models)


def refused(
    agent: str,
    version: int | None,
    payload: Any,
    problem: ProblemError,
    *,
    request_id: str | None,
    source: Source,
    api_key_id: uuid.UUID | None = None,
    execution_id: uuid.UUID | None = None,
) -> ExecutionRecord:
    """The record of a call that could not start (its pinned version is gone)."""
    record = start_record(
        agent,
        version,
        payload,
        request_id=request_id,
        source=source,
        api_key_id=api_key_id,
        execution_id=execution_id,
    )
    return finish_record(record, output=None, error=problem.problem(request_id), latency_ms=0.0)


async def _answer(
    context: CallContext,
    agent: AgentVersion,
    payload: Any,
    record: ExecutionRecord,
    conduct: Conduct,
    attachments: Attachments | None,
    *,
    fresh: bool,
    deadline_s: float | None,
    model_override: str | None,
) -> CallResult:
    services = context.services
    run = partial(
        execute,
        agent,
        payload,
        record,
        services=services,
        deadline_s=deadline_s,
        model_override=model_override,
        attachments=attachments,
    )
    cache = context.cache if conduct.cached else None
    policy = None
    if cache is not None:
        policy = cache_policy(
            agent,
            default_model=services.options.default_model,
            default_ttl_s=cache.default_ttl_s,
            offline=services.catalog.offline,
            model_override=model_override,
        )
    if cache is None or policy is None:
        return await run()
    outcome = await serve_cached(cache, agent, payload, policy, run, fresh=fresh)
    return cached_result(record, outcome)


def cached_result(record: ExecutionRecord, outcome: CallResult | Shared) -> CallResult:
    """The result of a call the response cache took part in, on this call's own record."""
    if isinstance(outcome, CallResult):
        outcome.cached = True
        return outcome
    # A hit, or a share of an identical call in flight: no attempts and no cost here.
    record.cache = "miss" if outcome.problem is not None else "hit"
    record.model, record.offline = outcome.model, outcome.offline
    return CallResult(record, outcome.output, outcome.problem, cached=True)


def suite_width(
    agent: AgentVersion, services: CallServices, configured: int, override: str | None = None
) -> int:
    """How many of a suite's cases to ask at once: `configured`, but no more than the
    primary model's deployments serve at a time. Cases beyond their slots would only queue,
    and the wait would eat each queued call's deadline (a one-slot CPU model timed out most
    of a suite asked four at a time)."""
    primary = model_tiers(agent, services.options.default_model, override)[0][0]
    limits = [d.max_concurrency for d in services.catalog.resolve(primary)]
    if any(limit is None for limit in limits):  # a deployment without a limit takes them all
        return max(1, configured)
    return max(1, min(configured, sum(limit or 0 for limit in limits)))
