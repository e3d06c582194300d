"""Circuit breakers per model deployment, shared by every server process through Postgres.

A deployment that keeps failing is skipped at once (the router goes straight to the
fallback) instead of making every call wait for its timeout. After a cooldown exactly one
caller, across all processes, is let through as a probe; its outcome closes or reopens.

The hot path reads an in-process view, refreshed from `breaker_state` at most every
`sync_interval_s` and on every transition this process makes, so `allow` on a closed or
cooling breaker costs no round trip. Writes happen only on failures and transitions.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.errors import database_unreachable
from app.core.loops import BackgroundLoop
from app.core.setting_groups import BreakerConfig

State = Literal["closed", "open", "half_open"]
_COLUMNS = "state, failures, opened_at, probe_until"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BreakerView:
    """What this process knows of one deployment's breaker."""

    deployment: str
    state: State
    failures: int
    recent_error_rate: float  # 0..1 over the recent outcomes seen by this process
    p50_latency_ms: float | None
    opened_at: datetime | None


@dataclass
class _Local:
    state: State = "closed"
    failures: int = 0
    opened_at: datetime | None = None  # set whenever state is open
    probe_until: datetime | None = None
    synced_at: float | None = None  # monotonic time of the last read or write of the row
    # Reads and writes of one deployment's row go one at a time in this process, so the
    # view always holds the row as of this process's latest statement (never an older
    # answer that arrived late).
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    outcomes: deque[tuple[bool, float]] = field(default_factory=deque)


_CLAIM = text(
    f"""
    WITH claimed AS (
        UPDATE breaker_state
        SET state = 'half_open', probe_until = :probe_until, updated_at = :now
        WHERE deployment = :deployment
          AND ((state = 'open' AND opened_at <= :cooled_before)
               OR (state = 'half_open' AND probe_until <= :now))
        RETURNING {_COLUMNS}
    )
    SELECT {_COLUMNS}, true AS changed FROM claimed
    UNION ALL
    SELECT {_COLUMNS}, false FROM breaker_state
    WHERE deployment = :deployment AND NOT EXISTS (SELECT 1 FROM claimed)
    """
)

# A success closes a half-open breaker (the probe worked) and clears a closed breaker's
# count of consecutive failures. A late success while open is a call let through before
# the breaker opened: it does not cut the cooldown short.
_SUCCEED = text(
    f"""
    WITH changed AS (
        UPDATE breaker_state
        SET state = 'closed', failures = 0, opened_at = NULL, probe_until = NULL,
            updated_at = :now
        WHERE deployment = :deployment
          AND (state = 'half_open' OR (state = 'closed' AND failures > 0))
        RETURNING {_COLUMNS}
    )
    SELECT {_COLUMNS}, true AS changed FROM changed
    UNION ALL
    SELECT {_COLUMNS}, false FROM breaker_state
    WHERE deployment = :deployment AND NOT EXISTS (SELECT 1 FROM changed)
    """
)

# One statement, so failures from every process add up without lost updates. SET
# expressions see the row as it was. A failure while half_open (the probe's, or another
# late one: either says the deployment is still sick) reopens with a fresh opened_at; a
# failure while already open (a call let through before it opened) keeps the running
# cooldown; a closed breaker opens once the count reaches the threshold.
_FAIL = text(
    f"""
    INSERT INTO breaker_state AS b (deployment, state, failures, opened_at, updated_at)
    VALUES (:deployment, CASE WHEN :threshold <= 1 THEN 'open' ELSE 'closed' END, 1,
            CASE WHEN :threshold <= 1 THEN CAST(:now AS timestamptz) END, :now)
    ON CONFLICT (deployment) DO UPDATE SET
        failures = b.failures + 1,
        state = CASE
            WHEN b.state = 'half_open' OR b.failures + 1 >= :threshold THEN 'open'
            ELSE b.state END,
        opened_at = CASE
            WHEN b.state = 'half_open' THEN CAST(:now AS timestamptz)
            WHEN b.state = 'closed' AND b.failures + 1 >= :threshold
                THEN CAST(:now AS timestamptz)
            ELSE b.opened_at END,
        probe_until = CASE WHEN b.state = 'half_open' THEN NULL ELSE b.probe_until END,
        updated_at = :now
    RETURNING {_COLUMNS}
    """
)

_READ = text(f"SELECT {_COLUMNS} FROM breaker_state WHERE deployment = :deployment")


class CircuitBreakers:
    """The breakers of every deployment this process calls, backed by `breaker_state`."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        config: BreakerConfig = BreakerConfig(),
        sync_interval_s: float = 1.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._config = config
        self._sync_interval_s = sync_interval_s
        self._views: dict[str, _Local] = {}

    async def allow(self, deployment: str) -> bool:
        """May a call go to `deployment` now? False means: go straight to the fallback.

        Closed, or open within its cooldown, is answered from the in-process view. Once the
        cooldown has passed, one caller across all processes claims the half-open probe in
        Postgres and gets True; the others get False until the probe reports or times out.
        """
        local = self._local(deployment)
        if not self._stale(local):
            verdict = self._verdict(local)
            if verdict is not None:
                return verdict
        async with local.lock:
            if self._stale(local):
                await self._read(local, deployment)
            verdict = self._verdict(local)
            if verdict is not None:
                return verdict
            now = self._clock.now()
            return await self._write_locked(
                local,
                deployment,
                _CLAIM,
                now=now,
                probe_until=now + timedelta(seconds=self._config.probe_timeout_s),
                cooled_before=now - timedelta(seconds=self._config.cooldown_s),
            )

    async def record_success(self, deployment: str, latency_ms: float) -> None:
        """A call to `deployment` answered: close a half-open breaker, clear failures."""
        local = self._local(deployment)
        local.outcomes.append((True, latency_ms))
        if local.state == "closed" and local.failures == 0:
            return  # the common case costs nothing
        await self._write(local, deployment, _SUCCEED, now=self._clock.now())

    async def record_failure(self, deployment: str, latency_ms: float) -> None:
        """A call to `deployment` failed in a way that says something about the deployment.

        Callers count transient upstream trouble (5xx, timeouts, refused connections), not
        4xx caused by the request nor unusable output.
        """
        local = self._local(deployment)
        local.outcomes.append((False, latency_ms))
        await self._write(
            local,
            deployment,
            _FAIL,
            now=self._clock.now(),
            threshold=self._config.failure_threshold,
        )

    def refresher(self) -> BackgroundLoop:
        """A loop (not started) re-reading the rows of the deployments this process calls
        before their views go stale, so `allow` on the request path never waits for Postgres.
        """
        return BackgroundLoop.refreshing(
            self._refresh,
            name="refresh CircuitBreakers",
            stale_after_s=self._sync_interval_s,
            message="breaker refresh failed",
        )

    async def _refresh(self) -> None:
        """Re-read every view older than half the interval; a failed read leaves that view
        to the request path's own sync."""
        for deployment, local in list(self._views.items()):
            synced = local.synced_at
            age = self._clock.monotonic() - synced if synced is not None else math.inf
            if age < self._sync_interval_s / 2 or local.lock.locked():
                continue
            try:
                async with local.lock:
                    await self._read(local, deployment)
            except Exception as exc:  # Postgres unwell: the request path syncs itself
                log.warning("breaker refresh failed", error=str(exc))

    def snapshot(self) -> list[BreakerView]:
        """The breakers of the deployments this process has seen, sorted by name."""
        views = []
        for deployment, local in sorted(self._views.items()):
            latencies = [ms for _, ms in local.outcomes]
            failed = sum(1 for ok, _ in local.outcomes if not ok)
            views.append(
                BreakerView(
                    deployment=deployment,
                    state=local.state,
                    failures=local.failures,
                    recent_error_rate=failed / len(local.outcomes) if local.outcomes else 0.0,
                    p50_latency_ms=statistics.median(latencies) if latencies else None,
                    opened_at=local.opened_at,
                )
            )
        return views

    def _local(self, deployment: str) -> _Local:
        local = self._views.get(deployment)
        if local is None:
            local = self._views[deployment] = _Local(outcomes=deque(maxlen=self._config.window))
        return local

    def _verdict(self, local: _Local) -> bool | None:
        """The answer the view gives without Postgres, or None when a probe may be claimed."""
        if local.state == "closed":
            return True
        now = self._clock.now()
        if local.state == "open":
            cooldown = timedelta(seconds=self._config.cooldown_s)
            if local.opened_at is not None and now < local.opened_at + cooldown:
                return False
        elif local.probe_until is not None and now < local.probe_until:
            return False  # a probe is in flight somewhere
        return None

    def _stale(self, local: _Local) -> bool:
        return (
            local.synced_at is None
            or self._clock.monotonic() - local.synced_at >= self._sync_interval_s
        )

    async def _read(self, local: _Local, deployment: str) -> None:
        try:
            async with self._sessionmaker() as session:
                row = (await session.execute(_READ, {"deployment": deployment})).first()
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            # The database is out of reach: this process's view stands (calls go on), and
            # is read again after `sync_interval_s`.
            local.synced_at = self._clock.monotonic()
            return
        self._apply(local, row)

    async def _write(self, local: _Local, deployment: str, statement: Any, **params: Any) -> bool:
        async with local.lock:
            return await self._write_locked(local, deployment, statement, **params)

    async def _write_locked(
        self, local: _Local, deployment: str, statement: Any, **params: Any
    ) -> bool:
        """Run one state statement; adopt the row it returns. True if it changed the row.

        With the database out of reach nothing changes (False): an open breaker stays open
        here, since no probe can be claimed across processes."""
        try:
            async with self._sessionmaker() as session, session.begin():
                statement_params = {"deployment": deployment, **params}
                row = (await session.execute(statement, statement_params)).first()
        except Exception as exc:
            if not database_unreachable(exc):
                raise
            return False
        self._apply(local, row)
        return bool(row is not None and getattr(row, "changed", True))

    def _apply(self, local: _Local, row: Any) -> None:
        if row is None:  # never failed anywhere: no row yet
            local.state, local.failures, local.opened_at, local.probe_until = (
                "closed",
                0,
                None,
                None,
            )
        else:
            local.state = row.state
            local.failures = row.failures
            local.opened_at = row.opened_at
            local.probe_until = row.probe_until
        local.synced_at = self._clock.monotonic()
