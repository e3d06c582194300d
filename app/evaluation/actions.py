"""Test-case changes as the API and the web app make them: the service call and its audit
event, written once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.evaluation.generate import generate_cases
from app.evaluation.schemas import ALL_KINDS, GenerationKind
from app.models import Spec, TestCase
from app.security import audit
from app.security.store import Principal
from app.serving.context import CallContext


async def generate(
    session: AsyncSession,
    spec_name: str,
    version: int | None,
    *,
    calls: CallContext,
    kinds: Sequence[GenerationKind] = ALL_KINDS,
    principal: Principal,
) -> list[TestCase]:
    """`generate_cases`, audited as `case.generated`."""
    generated = await generate_cases(session, spec_name, version, calls=calls, kinds=kinds)
    await audit.record(
        session,
        actor=principal.actor,
        action="case.generated",
        target=f"spec:{spec_name}",
        details={"version": version, "kinds": list(kinds), "cases": len(generated)},
    )
    return generated


async def case_changed(
    session: AsyncSession,
    principal: Principal,
    spec: Spec,
    case: TestCase,
    change: Literal["created", "updated", "deleted"],
) -> None:
    """The audit event of a test case created, updated or deleted; a created case that an
    execution was promoted to (its draft confirmed) is `case.promoted`."""
    promoted = change == "created" and case.execution_id is not None
    details = {"case": case.name, "case_id": str(case.id), "change": change}
    if promoted:
        details["execution_id"] = str(case.execution_id)
    await audit.record(
        session,
        actor=principal.actor,
        action="case.promoted" if promoted else "case.changed",
        target=f"spec:{spec.name}",
        details=details,
    )
