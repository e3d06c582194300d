"""Spending limits: per agent and global, per UTC day and month, shared by all processes.

Spend is summed by the execution writer into the `spend` table (one row per scope and day);
the guard reads it, at most once per `refresh_s`, before each call.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.errors import Conflict, NotFound, ProblemError, database_unreachable
from app.core.loops import BackgroundLoop
from app.models import Budget, Spend


class BudgetExceeded(ProblemError):
    status = 429
    slug = "budget-exceeded"
    title = "Budget exhausted"
    retryable = True


class BudgetExists(Conflict):
    slug = "budget-exists"
    title = "Budget already exists"


class BudgetNotFound(NotFound):
    slug = "budget-not-found"
    title = "Budget not found"


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """Start and end (exclusive) of the UTC day or month containing `now`."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def scope_key(budget: Budget) -> str:
    """The `spend` row a budget is measured against."""
    return "global" if budget.scope == "global" else f"agent:{budget.agent}"


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    spent_usd: Decimal
    resets_at: datetime

    @property
    def exhausted(self) -> bool:
        return self.spent_usd >= self.budget.limit_usd

    def plus(self, unwritten: Decimal) -> BudgetStatus:
        """This status with spend not in the database yet added."""
        return (
            BudgetStatus(self.budget, self.spent_usd + unwritten, self.resets_at)
            if unwritten
            else self
        )


async def budget_statuses(session: AsyncSession, now: datetime) -> list[BudgetStatus]:
    """Every budget with what has been spent in its current period."""
    budgets = (await session.scalars(select(Budget).order_by(Budget.created_at))).all()
    if not budgets:
        return []
    month_start, _ = period_bounds("month", now)
    day_start, _ = period_bounds("day", now)
    rows = await session.execute(
        select(
            Spend.scope_key,
            func.coalesce(func.sum(Spend.spent_usd).filter(Spend.day >= day_start), 0),
            func.coalesce(func.sum(Spend.spent_usd), 0),
        )
        .where(Spend.day >= min(month_start, day_start))
        .group_by(Spend.scope_key)
    )
    spent = {key: (Decimal(day), Decimal(month)) for key, day, month in rows.all()}
    statuses = []
    for budget in budgets:
        day_spent, month_spent = spent.get(scope_key(budget), (Decimal(0), Decimal(0)))
        _, end = period_bounds(budget.period, now)
        value = day_spent if budget.period == "day" else month_spent
        statuses.append(BudgetStatus(budget, value, end))
    return statuses


class BudgetGuard:
    """Answers "may this agent spend now?" from a view of budgets refreshed every `refresh_s`."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        refresh_s: float,
        unwritten: Callable[[str], Decimal] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        # This process's spend not in the database yet, by scope key (the execution writer's).
        self._unwritten = unwritten
        self._clock = clock
        self._refresh_s = refresh_s
        self._statuses: list[BudgetStatus] = []
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def check(self, agent: str) -> str | None:
        """Raise `BudgetExceeded` when a budget covering `agent` is spent; return the model to
        downgrade to when the budget says so instead; None when the call may go ahead."""
        statuses = await self._current()
        for status in statuses:
            budget = status.budget
            if budget.scope == "agent" and budget.agent != agent:
                continue
            if self._unwritten is not None:
                status = status.plus(self._unwritten(scope_key(budget)))
            if not status.exhausted:
                continue
            if budget.on_exceed == "downgrade" and budget.downgrade_model:
                return budget.downgrade_model
            wait = max(1, int((status.resets_at - self._clock.now()).total_seconds()) + 1)
            which = "global" if budget.scope == "global" else f"agent {budget.agent!r}"
            raise BudgetExceeded(
                f"the {budget.period}ly budget of {which} (${budget.limit_usd}) is spent "
                f"(${status.spent_usd:.6f}); it resets at {status.resets_at.isoformat()}",
                headers={"Retry-After": str(wait)},
                extra={
                    "budget_id": str(budget.id),
                    "resets_at": status.resets_at.isoformat(),
                    "limit_usd": float(budget.limit_usd),
                    "spent_usd": float(status.spent_usd),
                },
            )
        return None

    def invalidate(self) -> None:
        self._loaded_at = None

    def refresher(self) -> BackgroundLoop | None:
        """A loop (not started) reloading the view before it goes stale, so `check` on the
        request path never waits for Postgres; None with `refresh_s` 0: every check reads.
        """
        if self._refresh_s <= 0:
            return None
        return BackgroundLoop.refreshing(
            self._refresh,
            name="refresh BudgetGuard",
            stale_after_s=self._refresh_s,
            message="budget refresh failed",
        )

    async def _refresh(self) -> None:
        async with self._lock:
            await self._reload()

    async def _current(self) -> list[BudgetStatus]:
        now = self._clock.monotonic()
        if self._loaded_at is not None and now - self._loaded_at < self._refresh_s:
            return self._statuses
        async with self._lock:
            if (
                self._loaded_at is None
                or self._clock.monotonic() - self._loaded_at >= self._refresh_s
            ):
                await self._reload_or_keep()
        return self._statuses

    async def _reload_or_keep(self) -> None:
        """Reload; while the database is out of reach, the last view stands (no spend can be
        stored meanwhile) and is tried again after `refresh_s`."""
        try:
            await self._reload()
        except Exception as exc:
            if self._loaded_at is None or not database_unreachable(exc):
                raise
            self._loaded_at = self._clock.monotonic()

    async def _reload(self) -> None:
        async with self._sessionmaker() as session:
            self._statuses = await budget_statuses(session, self._clock.now())
        self._loaded_at = self._clock.monotonic()


async def create_budget(
    session: AsyncSession,
    *,
    scope: str,
    agent: str | None,
    period: str,
    limit_usd: Decimal,
    on_exceed: str,
    downgrade_model: str | None,
) -> Budget:
    """Add a budget; 409 when that scope and period already has one."""
    budget = Budget(
        scope=scope,
        agent=agent if scope == "agent" else None,
        period=period,
        limit_usd=limit_usd,
        on_exceed=on_exceed,
        downgrade_model=downgrade_model,
    )
    session.add(budget)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise BudgetExists(f"a {period}ly {scope} budget for this scope already exists") from None
    await session.refresh(budget)
    return budget


async def delete_budget(session: AsyncSession, budget_id: uuid.UUID) -> None:
    """Remove a budget, or 404."""
    result = await session.execute(
        delete(Budget).where(Budget.id == budget_id).returning(Budget.id)
    )
    if result.scalar_one_or_none() is None:
        raise BudgetNotFound(f"no budget {budget_id}")


async def list_budgets(session: AsyncSession, now: datetime) -> Sequence[BudgetStatus]:
    """Every budget with its spend in the current period."""
    return await budget_statuses(session, now)
