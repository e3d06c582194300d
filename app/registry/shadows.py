"""Shadow runs: a candidate version answers a sampled share of an agent's calls beside
live, after the caller has had live's answer, and the two outputs are compared field by
field. The candidate's calls are executions with `source: shadow`, each naming its shadow
and the live execution it shadowed, so every figure is a query.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.compiler.checks import SpecChecks
from app.compiler.document import SpecDocument
from app.core.errors import Conflict, NotFound
from app.executions.record import CHECK_FAILED
from app.models import Attempt, Execution, Shadow, Spec
from app.registry.agreement import Agreement
from app.registry.labels import Who
from app.registry.rollouts import CHECKS_FAILED
from app.registry.service import add_release, get_version
from app.security import audit

# The pairs compared for a report: the newest ones (a long shadow keeps its figures cheap).
COMPARED_PAIRS = 5000
DIFFERENCES_SHOWN = 20


class ShadowNotFound(NotFound):
    slug = "shadow-not-found"
    title = "Shadow not found"


class ShadowRunning(Conflict):
    slug = "shadow-running"
    title = "A shadow is running"


class ShadowStopped(Conflict):
    slug = "shadow-stopped"
    title = "The shadow has stopped"


class NothingToShadow(Conflict):
    slug = "nothing-to-shadow"
    title = "Nothing to shadow"


@dataclass(frozen=True)
class Difference:
    """One call where live and the candidate disagreed, side by side."""

    execution_id: uuid.UUID
    live_execution_id: uuid.UUID
    input: dict[str, Any]
    live: dict[str, Any]
    candidate: dict[str, Any]
    fields: list[str]


@dataclass(frozen=True)
class ChecksOnBoth:
    """Names of the spec's checks each output failed."""

    live: list[str] = field(default_factory=list)
    candidate: list[str] = field(default_factory=list)


@dataclass
class ShadowReport:
    calls: int = 0
    compared: int = 0
    agreement: float | None = None
    fields: dict[str, float] = field(default_factory=dict)
    candidate_failures: int = 0
    cost_usd: float = 0.0
    check_failures: dict[str, int] = field(default_factory=lambda: {"live": 0, "candidate": 0})
    differences: list[Difference] = field(default_factory=list)


def run_checks_on_both(
    checks: SpecChecks, payload: dict[str, Any], live: dict[str, Any], candidate: dict[str, Any]
) -> ChecksOnBoth:
    """The candidate's checks (CEL over input and output, and grounding) run on both
    outputs of one shadowed call: how often live's answers would have broken the new
    checks, and which warnings the candidate's own answers drew. A check that refused an
    answer inside either call is counted from its attempts (`check_failed`) instead."""

    def failed(output: dict[str, Any]) -> list[str]:
        # The input as stored: a document field holds its file's reference, not its text.
        verdict = checks.judge(payload, payload, output)
        return [str(issue.check) for issue in (*verdict.errors, *verdict.warnings)]

    if not checks:
        return ChecksOnBoth()
    return ChecksOnBoth(live=failed(live), candidate=failed(candidate))


async def start_shadow(
    session: AsyncSession, *, spec: Spec, version: int, sample: float, who: Who
) -> Shadow:
    """Start running `version` beside live on a `sample` share of calls."""
    await get_version(session, spec, version)
    if spec.live_version is None:
        raise NothingToShadow(f"spec {spec.name!r} has no live version to shadow; publish one")
    if version == spec.live_version:
        raise NothingToShadow(f"version {version} of {spec.name!r} is the live version")
    running = await running_shadow(session, spec.id)
    if running is not None:
        raise ShadowRunning(
            f"shadow {running.id} of version {running.version} of {spec.name!r} is running; "
            "stop it first",
            extra={"shadow_id": str(running.id)},
        )
    shadow = Shadow(
        id=uuid.uuid4(),
        spec_id=spec.id,
        version=version,
        sample=sample,
        status="running",
        actor=who.release,
    )
    session.add(shadow)
    await session.flush()
    details = {"shadow_id": str(shadow.id), "sample": sample}
    await add_release(
        session, spec, action="shadow", from_version=spec.live_version, to_version=version,
        actor=who.release, reason=None, details=details,
    )  # fmt: skip
    await audit.record(
        session, actor=who.audit, action="shadow.started", target=f"spec:{spec.name}",
        details={**details, "version": version},
    )  # fmt: skip
    await session.refresh(shadow)
    return shadow


async def running_shadow(session: AsyncSession, spec_id: uuid.UUID) -> Shadow | None:
    """The spec's running shadow, if any."""
    return await session.scalar(
        select(Shadow).where(Shadow.spec_id == spec_id, Shadow.status == "running")
    )


async def get_shadow(session: AsyncSession, spec: Spec, shadow_id: uuid.UUID) -> Shadow:
    """The spec's shadow `shadow_id`, or 404."""
    shadow = await session.scalar(
        select(Shadow).where(Shadow.id == shadow_id, Shadow.spec_id == spec.id)
    )
    if shadow is None:
        raise ShadowNotFound(f"spec {spec.name!r} has no shadow {shadow_id}")
    return shadow


async def list_shadows(session: AsyncSession, spec: Spec) -> Sequence[Shadow]:
    """The spec's shadows, newest first."""
    query = select(Shadow).where(Shadow.spec_id == spec.id).order_by(Shadow.created_at.desc())
    return (await session.scalars(query)).all()


async def stop_shadow(session: AsyncSession, *, spec: Spec, shadow: Shadow, who: Who) -> Shadow:
    """Stop running the candidate beside live; 409 when it has stopped already."""
    stopped = await session.scalar(
        update(Shadow)
        .where(Shadow.id == shadow.id, Shadow.status == "running")
        .values(status="stopped", stopped_at=func.clock_timestamp())
        .returning(Shadow.id)
    )
    if stopped is None:
        raise ShadowStopped(f"shadow {shadow.id} has stopped already")
    await session.refresh(shadow)
    details = {"shadow_id": str(shadow.id)}
    await add_release(
        session, spec, action="shadow_stopped", from_version=shadow.version,
        to_version=spec.live_version, actor=who.release, reason=None, details=details,
    )  # fmt: skip
    await audit.record(
        session, actor=who.audit, action="shadow.stopped", target=f"spec:{spec.name}",
        details=details,
    )  # fmt: skip
    return shadow


def _checks_failed(execution: Any) -> Any:
    return (execution.error["type"].astext == CHECKS_FAILED) | exists().where(
        Attempt.execution_id == execution.id, Attempt.outcome == CHECK_FAILED
    )


async def shadow_report(
    session: AsyncSession, shadow: Shadow, document: dict[str, Any]
) -> ShadowReport:
    """The shadow's figures: its calls, failures and cost, and how far its answers agreed
    with live's, per output field."""
    candidate, live = aliased(Execution), aliased(Execution)
    # Pairs first: the totals, read after, count every call the pairs saw (calls are
    # written while we read), so `calls` is never below `compared`.
    compared = (
        (
            await session.execute(
                select(candidate.id, live.id, candidate.input, live.output, candidate.output)
                .join(live, live.id == candidate.shadow_of)
                .where(
                    and_(
                        candidate.shadow_id == shadow.id,
                        candidate.status == "succeeded",
                        live.status == "succeeded",
                    )
                )
                .order_by(candidate.created_at.desc())
                .limit(COMPARED_PAIRS)
            )
        )
        .tuples()
        .all()
    )
    totals = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(candidate.status == "failed"),
                func.coalesce(func.sum(candidate.cost_usd), 0),
                func.count().filter(_checks_failed(candidate)),
                func.count().filter(_checks_failed(live)),
            )
            .select_from(candidate)
            .outerjoin(live, live.id == candidate.shadow_of)
            .where(candidate.shadow_id == shadow.id)
        )
    ).one()
    report = ShadowReport(
        calls=totals[0],
        candidate_failures=totals[1],
        cost_usd=float(totals[2]),
        check_failures={"live": totals[4], "candidate": totals[3]},
    )
    _compare(report, compared, document)
    return report


def _compare(
    report: ShadowReport, pairs: Sequence[tuple[Any, ...]], document: dict[str, Any]
) -> None:
    tally = Agreement()
    spec = SpecDocument.model_validate(document)
    checks = SpecChecks(spec.checks, spec.output_schema)
    for execution_id, live_id, payload, live_output, candidate_output in pairs:
        fields = tally.add(live_output, candidate_output)
        if not all(fields.values()) and len(report.differences) < DIFFERENCES_SHOWN:
            report.differences.append(
                Difference(
                    execution_id, live_id, payload, live_output, candidate_output,
                    [p for p, same in fields.items() if not same],
                )
            )  # fmt: skip
        both = run_checks_on_both(checks, payload, live_output, candidate_output)
        report.check_failures["live"] += len(both.live)
        report.check_failures["candidate"] += len(both.candidate)
    report.compared, report.agreement, report.fields = tally.compared, tally.overall, tally.fields
