"""Canary rollouts: a share of an agent's production subjects get a candidate version, and
a guard takes the candidate back by itself when its recorded calls cross a bound.

Every figure comes from the executions the rollout's arms produced (each carries the
rollout's id), so every process computes the same figures and any of them may end a
rollout; the end is one compare-and-set UPDATE, so exactly one process records it, and its
NOTIFY sends every process's traffic back to live together.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import Integer, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import TYPE_BASE, ChecksFailed, Conflict, NotFound
from app.executions.record import CHECK_FAILED
from app.models import Attempt, Execution, Rollout, Spec
from app.registry.labels import Who
from app.registry.service import RolloutRunning, add_release, get_version, publish
from app.security import audit

GUARD = Who(release="guard", audit="guard")
# What counts against a candidate: the models gave no valid output (502), none was
# available (503), the deadline passed (504), or its checks failed (a 502 of its own type).
FAILURE_STATUSES = (502, 503, 504)
CHECKS_FAILED = TYPE_BASE + ChecksFailed.slug
Ending = Literal["promoted", "aborted", "rolled_back"]
_ENDED: dict[Ending, audit.Action] = {
    "promoted": "rollout.promoted",
    "aborted": "rollout.aborted",
    "rolled_back": "rollout.rolled_back",
}


class RolloutNotFound(NotFound):
    slug = "rollout-not-found"
    title = "Rollout not found"


class RolloutEnded(Conflict):
    slug = "rollout-ended"
    title = "The rollout has ended"


class NothingToRollOut(Conflict):
    slug = "nothing-to-roll-out"
    title = "Nothing to roll out"


@dataclass(frozen=True)
class ArmFigures:
    """One arm's recorded calls: how many, how many failed and why, how slow, how dear."""

    version: int
    calls: int = 0
    failures: int = 0
    check_failures: int = 0
    p95_latency_ms: float | None = None
    cost_usd: float = 0.0

    @property
    def failure_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    @property
    def cost_per_call_usd(self) -> float:
        return self.cost_usd / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The figures as the API and the release history show them."""
        return {
            **asdict(self),
            "failure_rate": round(self.failure_rate, 6),
            "cost_per_call_usd": round(self.cost_per_call_usd, 8),
        }


@dataclass(frozen=True)
class Arms:
    live: ArmFigures
    candidate: ArmFigures

    def as_dict(self) -> dict[str, Any]:
        return {"live": self.live.as_dict(), "candidate": self.candidate.as_dict()}


async def start_rollout(
    session: AsyncSession,
    *,
    spec: Spec,
    version: int,
    percent: float,
    guard: dict[str, Any],
    who: Who,
    reason: str | None,
    forced: bool,
    gates: dict[str, Any] | None = None,
) -> Rollout:
    """Start sending `percent` of the spec's subjects to `version`; the gates it passed
    (checked by the caller) are recorded with it."""
    await get_version(session, spec, version)
    if spec.live_version is None:
        raise NothingToRollOut(
            f"spec {spec.name!r} has no live version to roll out beside; publish one first"
        )
    if version == spec.live_version:
        raise NothingToRollOut(f"version {version} of {spec.name!r} is already live")
    running = await running_rollout(session, spec.id)
    if running is not None:
        raise RolloutRunning(
            f"rollout {running.id} of version {running.version} of {spec.name!r} is running; "
            "promote or abort it first",
            extra={"rollout_id": str(running.id)},
        )
    rollout = Rollout(
        id=uuid.uuid4(),
        spec_id=spec.id,
        version=version,
        base_version=spec.live_version,
        percent=percent,
        guard=guard,
        status="running",
        actor=who.release,
        reason=reason,
        forced=forced,
    )
    session.add(rollout)
    await session.flush()
    settings = {"rollout_id": str(rollout.id), "percent": percent, "guard": guard, "gates": gates}
    await add_release(
        session,
        spec,
        action="rollout",
        from_version=spec.live_version,
        to_version=version,
        actor=who.release,
        reason=reason,
        forced=forced,
        details=settings,
    )
    await _audit(session, who, "rollout.started", spec, rollout, {**settings, "reason": reason})
    await session.refresh(rollout)
    return rollout


async def get_rollout(session: AsyncSession, spec: Spec, rollout_id: uuid.UUID) -> Rollout:
    """The spec's rollout `rollout_id`, or 404."""
    rollout = await session.scalar(
        select(Rollout).where(Rollout.id == rollout_id, Rollout.spec_id == spec.id)
    )
    if rollout is None:
        raise RolloutNotFound(f"spec {spec.name!r} has no rollout {rollout_id}")
    return rollout


async def list_rollouts(session: AsyncSession, spec: Spec) -> Sequence[Rollout]:
    """The spec's rollouts, newest first."""
    query = (
        select(Rollout)
        .where(Rollout.spec_id == spec.id)
        .order_by(Rollout.created_at.desc(), Rollout.id)
    )
    return (await session.scalars(query)).all()


async def running_rollout(session: AsyncSession, spec_id: uuid.UUID) -> Rollout | None:
    """The spec's running rollout, if any."""
    return await session.scalar(
        select(Rollout).where(Rollout.spec_id == spec_id, Rollout.status == "running")
    )


async def arm_figures(session: AsyncSession, rollout: Rollout) -> Arms:
    """Each arm's figures, from the executions that carry the rollout's id."""
    status_code = Execution.error["status"].astext.cast(Integer)
    checks_failed = Execution.error["type"].astext == CHECKS_FAILED
    failed = (Execution.status == "failed") & (status_code.in_(FAILURE_STATUSES) | checks_failed)
    check_attempt = exists().where(
        Attempt.execution_id == Execution.id, Attempt.outcome == CHECK_FAILED
    )
    rows = await session.execute(
        select(
            Execution.version,
            func.count(),
            func.count().filter(failed),
            func.count().filter(checks_failed | check_attempt),
            func.percentile_cont(0.95).within_group(Execution.latency_ms),
            func.coalesce(func.sum(Execution.cost_usd), 0),
        )
        .where(Execution.rollout_id == rollout.id)
        .group_by(Execution.version)
    )
    by_version = {
        version: ArmFigures(
            version=version,
            calls=calls,
            failures=failures,
            check_failures=checks,
            p95_latency_ms=round(p95, 3) if p95 is not None else None,
            cost_usd=float(cost),
        )
        for version, calls, failures, checks, p95, cost in rows.tuples()
    }
    return Arms(
        live=by_version.get(rollout.base_version, ArmFigures(rollout.base_version)),
        candidate=by_version.get(rollout.version, ArmFigures(rollout.version)),
    )


def tripped(guard: dict[str, Any], candidate: ArmFigures) -> str | None:
    """Which bound the candidate crossed (None: none yet, or fewer than `min_calls` calls)."""
    if candidate.calls < guard["min_calls"]:
        return None
    if candidate.failure_rate > guard["max_failure_rate"]:
        return "max_failure_rate"
    p95_bound = guard.get("max_p95_latency_ms")
    p95 = candidate.p95_latency_ms
    if p95_bound is not None and p95 is not None and p95 > p95_bound:
        return "max_p95_latency_ms"
    cost_bound = guard.get("max_cost_per_call_usd")
    if cost_bound is not None and candidate.cost_per_call_usd > cost_bound:
        return "max_cost_per_call_usd"
    return None


async def end_rollout(
    session: AsyncSession,
    *,
    spec: Spec,
    rollout: Rollout,
    status: Ending,
    who: Who,
    reason: str | None,
    outcome: dict[str, Any],
) -> bool:
    """End a running rollout (False: it had ended already, maybe in another process).

    A compare-and-set on the status: of any number of processes ending it at once, exactly
    one wins and records the release row and the audit event.
    """
    ended = await session.scalar(
        update(Rollout)
        .where(Rollout.id == rollout.id, Rollout.status == "running")
        .values(status=status, ended_at=func.clock_timestamp(), ended_by=who.release,
                outcome=outcome)
        .returning(Rollout.id)
    )  # fmt: skip
    if ended is None:
        return False
    await session.refresh(rollout)
    if status != "promoted":  # a promotion's release is the publish itself
        await add_release(
            session,
            spec,
            action=f"rollout_{status}",
            from_version=rollout.version,
            to_version=rollout.base_version,
            actor=who.release,
            reason=reason,
            details={"rollout_id": str(rollout.id), **outcome},
        )
    await _audit(session, who, _ENDED[status], spec, rollout, {"reason": reason, **outcome})
    return True


async def abort(
    session: AsyncSession, *, spec: Spec, rollout: Rollout, who: Who, reason: str | None
) -> Rollout:
    """End the rollout and send all traffic back to live; 409 when it has ended."""
    arms = await arm_figures(session, rollout)
    if not await end_rollout(
        session, spec=spec, rollout=rollout, status="aborted", who=who, reason=reason,
        outcome={"arms": arms.as_dict()},
    ):  # fmt: skip
        raise _ended(rollout)
    return rollout


async def promote(
    session: AsyncSession, *, spec: Spec, rollout: Rollout, who: Who, reason: str | None
) -> Rollout:
    """Make the candidate live: a publish (its gates were passed when the rollout started)."""
    arms = await arm_figures(session, rollout)
    if not await end_rollout(
        session, spec=spec, rollout=rollout, status="promoted", who=who, reason=reason,
        outcome={"arms": arms.as_dict()},
    ):  # fmt: skip
        raise _ended(rollout)
    release = await publish(
        session,
        name=spec.name,
        version=rollout.version,
        actor=who.release,
        reason=reason or f"promoted from rollout {rollout.id}",
        forced=rollout.forced,
    )
    release.details = {"rollout_id": str(rollout.id), "arms": arms.as_dict()}
    await session.flush()
    return rollout


def _ended(rollout: Rollout) -> RolloutEnded:
    return RolloutEnded(
        f"rollout {rollout.id} has ended ({rollout.status})", extra={"status": rollout.status}
    )


async def guard_rollouts(session: AsyncSession) -> list[uuid.UUID]:
    """Roll back every running rollout whose candidate crossed a bound of its guard; the ids
    of those this call rolled back."""
    running = (
        (
            await session.execute(
                select(Rollout, Spec)
                .join(Spec, Spec.id == Rollout.spec_id)
                .where(Rollout.status == "running")
            )
        )
        .tuples()
        .all()
    )
    rolled_back = []
    for rollout, spec in running:
        arms = await arm_figures(session, rollout)
        bound = tripped(rollout.guard, arms.candidate)
        if bound is None:
            continue
        outcome = {
            "tripped": bound,
            "limit": rollout.guard[bound],
            "figures": arms.candidate.as_dict(),
            "arms": arms.as_dict(),
        }
        reason = _trip_reason(bound, rollout.guard, arms.candidate)
        if await end_rollout(
            session, spec=spec, rollout=rollout, status="rolled_back", who=GUARD,
            reason=reason, outcome=outcome,
        ):  # fmt: skip
            rolled_back.append(rollout.id)
    return rolled_back


def _trip_reason(bound: str, guard: dict[str, Any], candidate: ArmFigures) -> str:
    figure = {
        "max_failure_rate": f"failure rate {candidate.failure_rate:.3f}",
        "max_p95_latency_ms": f"p95 latency {candidate.p95_latency_ms} ms",
        "max_cost_per_call_usd": f"cost per call {candidate.cost_per_call_usd:.8f} USD",
    }[bound]
    return (
        f"guard: {figure} over {candidate.calls} calls of version {candidate.version} "
        f"exceeds {bound} {guard[bound]}"
    )


async def _audit(
    session: AsyncSession,
    who: Who,
    action: audit.Action,
    spec: Spec,
    rollout: Rollout,
    details: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor=who.audit,
        action=action,
        target=f"spec:{spec.name}",
        details={
            "rollout_id": str(rollout.id),
            "version": rollout.version,
            "live_version": rollout.base_version,
            **details,
        },
    )
