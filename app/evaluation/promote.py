"""Promote a recorded execution to a test case: its input, and assertions from its output.

Only a succeeded execution whose stored input and output are complete can become a case: a
failed one has no output to assert on, and a redacted one (`x-sensitive` fields) lost the
very values the case would replay.
Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import Assertion
from app.core.errors import Conflict, NotFound
from app.core.setting_groups import FileLimits
from app.evaluation import cases as case_service
from app.evaluation.schema_cases import output_assertions
from app.evaluation.schemas import CaseWrite, PromoteRequest
from app.executions.redaction import REDACTED, has_sensitive
from app.models import Execution, Spec, SpecVersion, TestCase
from app.registry import service as registry


class ExecutionNotFound(NotFound):
    slug = "execution-not-found"
    title = "Execution not found"


class ExecutionNotPromotable(Conflict):
    slug = "execution-not-promotable"
    title = "The execution cannot become a test case"


async def promote_execution(
    session: AsyncSession, execution_id: uuid.UUID, body: PromoteRequest, *, limits: FileLimits
) -> tuple[Spec, TestCase]:
    """A new case (origin `promoted`) from a succeeded, unredacted execution."""
    execution = await session.get(Execution, execution_id)
    if execution is None:
        raise ExecutionNotFound(f"no execution {execution_id}")
    if execution.status != "succeeded" or execution.output is None:
        raise ExecutionNotPromotable(
            f"execution {execution_id} {execution.status}: it has no output to assert on",
            extra={"reason": "failed"},
        )
    spec = await registry.get_spec(session, execution.agent)
    number = execution.version or spec.latest_version
    document = await session.scalar(
        select(SpecVersion.document).where(
            SpecVersion.spec_id == spec.id, SpecVersion.version == number
        )
    )
    document = document or {}
    if (
        has_sensitive(document.get("input_schema"))
        or has_sensitive(document.get("output_schema"))
        or _contains(execution.input, REDACTED)
        or _contains(execution.output, REDACTED)
    ):
        raise ExecutionNotPromotable(
            f"execution {execution_id} was stored redacted (x-sensitive fields): its input "
            "or output is not what the agent saw, so it cannot be replayed as a case",
            extra={"reason": "redacted"},
        )
    write = CaseWrite(
        name=body.name or f"promoted {execution.id.hex[:12]}",
        input=execution.input,
        expect=[
            Assertion.model_validate(a)
            for a in output_assertions(document.get("output_schema", {}), execution.output)
        ],
        repeat=body.repeat,
        min_pass_rate=body.min_pass_rate,
        rules=body.rules,
    )
    case = await case_service.create_case(
        session,
        spec=spec,
        body=write,
        limits=limits,
        origin="promoted",
        execution_id=execution.id,
    )
    return spec, case


def _contains(value: object, marker: str) -> bool:
    if value == marker:
        return True
    if isinstance(value, dict):
        return any(_contains(v, marker) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, marker) for v in value)
    return False
