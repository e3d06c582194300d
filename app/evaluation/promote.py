"""Promote a recorded execution to a draft test case: its input, and assertions from its
output. Nothing is stored: the expected values are the model's own answer, which may be
wrong, so the author reviews and confirms them (saving the draft as a case) first.

Only a succeeded execution whose stored input and output are complete can become a case: a
failed one has no output to assert on, and a redacted one (`x-sensitive` fields) lost the
very values the case would replay.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import Assertion
from app.core.errors import Conflict, NotFound
from app.evaluation.schema_cases import output_assertions
from app.evaluation.schemas import CaseWrite, PromoteRequest, PromotionDraft
from app.executions.redaction import REDACTED, has_sensitive
from app.models import Execution, SpecVersion
from app.registry import service as registry
from app.registry.file_cases import stored_assertions


class ExecutionNotFound(NotFound):
    slug = "execution-not-found"
    title = "Execution not found"


class ExecutionNotPromotable(Conflict):
    slug = "execution-not-promotable"
    title = "The execution cannot become a test case"


REVIEW = (
    "The expected values below are the model's own answer, not yet checked: confirm or "
    "correct each one, then save the case (POST it to {save}). A wrong answer saved as "
    "expected makes a test that rewards the mistake."
)


OFFLINE_REVIEW = (
    "The offline model answered this execution: its values are placeholders, not what the "
    "spec's rules give, and the saved case will be marked as a placeholder."
)


async def draft_from_execution(
    session: AsyncSession, execution_id: uuid.UUID, body: PromoteRequest
) -> PromotionDraft:
    """A draft case (origin `promoted` once saved) from a succeeded, unredacted execution."""
    execution = await session.scalar(select(Execution).where(Execution.id == execution_id))
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
    case = CaseWrite(
        name=body.name or f"promoted {execution.id.hex[:12]}",
        input=execution.input,
        expect=[
            Assertion.model_validate(a)
            for a in output_assertions(document.get("output_schema", {}), execution.output)
        ],
        repeat=body.repeat,
        min_pass_rate=body.min_pass_rate,
        rules=body.rules,
        execution_id=execution.id,
    )
    save = f"/api/specs/{spec.name}/cases"
    review = REVIEW.format(save=save)
    if execution.offline:
        review = OFFLINE_REVIEW + " " + review
    return PromotionDraft(
        spec=spec.name,
        execution_id=execution.id,
        case=case.model_dump(mode="json") | {"expect": stored_assertions(case.expect)},
        save=save,
        review=review,
        offline=execution.offline,
    )


def _contains(value: object, marker: str) -> bool:
    if value == marker:
        return True
    if isinstance(value, dict):
        return any(_contains(v, marker) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, marker) for v in value)
    return False
