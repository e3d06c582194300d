"""The rollout guard: every process checks every running rollout's candidate against its
guard, from the calls recorded in Postgres, and rolls it back when a bound is crossed.

Any process may be the one to notice; the end is a compare-and-set in the database, so it
is recorded once, and its NOTIFY sends every process's traffic back to live at once.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.loops import BackgroundLoop
from app.registry.rollouts import guard_rollouts

log = structlog.get_logger(__name__)


class RolloutGuard:
    """Checks running rollouts every `interval_s` in the background."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, interval_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self.loop = BackgroundLoop(
            self.check, name="rollout guard", interval_s=interval_s, message="rollout guard failed"
        )

    async def check(self) -> None:
        """One round: roll back every running rollout whose candidate crossed a bound."""
        async with self._sessionmaker() as session, session.begin():
            ended = await guard_rollouts(session)
        for rollout_id in ended:
            log.warning("rollout rolled back by its guard", rollout_id=str(rollout_id))
