"""Upstream rate limits (rpm/tpm per deployment) shared by every process using the database.

Window scheme: 1-second slots (`rate_window` rows keyed by bucket and the slot's start),
summed over the current slot and the 60 before it. Fixed 1-minute windows let twice the
limit through around a window edge (a full minute's worth at 0:59 and again at 1:00), which
is exactly the burst that earns 429s; a weighted "previous window" estimate is only right
when traffic is even. Summing second slots is exact to the second, and counting 61 of them
(not 60) makes it conservative: a slot leaves the sum only when every request in it is more
than 60 s old, so no 60-second span ever holds more than the limit. The price is at most
61 small rows per bucket and, at worst, one extra second of waiting.

A sum over many rows cannot be made atomic by a conditional UPDATE of one row, so each
acquire takes a per-bucket transaction-scoped advisory lock first; the statement after it
then sees every earlier acquire of that bucket (in READ COMMITTED each statement takes a
fresh snapshot) and inserts or increments the current slot only if the limits allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock

log = structlog.get_logger(__name__)

SLOT = timedelta(seconds=1)
SPAN = timedelta(seconds=61)  # slots counted: the current one and the 60 before it
# First key of the two-key advisory lock ("rate limits"); the second is a hash of the
# bucket, so two buckets may share a lock now and then, which only serializes them.
_LOCK_SPACE = 0x5E_C1
_KEEP = timedelta(minutes=5)  # rows older than this are deleted (margin for clock skew)
_CLEAN_EVERY_S = 60.0

# The same statement turns off waiting for the WAL flush at commit, for this transaction
# only: it would otherwise be most of an acquire's cost (milliseconds per call), and a
# Postgres crash losing the last fraction of a second of counts is harmless here.
_LOCK = text(
    "SELECT pg_advisory_xact_lock(:space, hashtext(:bucket)),"
    " set_config('synchronous_commit', 'off', true)"
)

# Takes a slot only if the limits allow it (a refused call leaves no trace), and returns
# the slots in the span either way so that a refusal can say when the next slot frees up.
_TAKE = text(
    """
    WITH recent AS (
        SELECT window_start, requests, tokens FROM rate_window
        WHERE bucket = :bucket AND window_start >= :since
    ),
    totals AS (
        SELECT COALESCE(sum(requests), 0) AS requests, COALESCE(sum(tokens), 0) AS tokens
        FROM recent
    ),
    taken AS (
        INSERT INTO rate_window AS w (bucket, window_start, requests, tokens)
        SELECT :bucket, :slot, 1, :tokens FROM totals
        WHERE (CAST(:rpm AS integer) IS NULL OR totals.requests + 1 <= :rpm)
          AND (CAST(:tpm AS bigint) IS NULL OR totals.tokens + :tokens <= :tpm)
        ON CONFLICT (bucket, window_start) DO UPDATE
        SET requests = w.requests + 1, tokens = w.tokens + EXCLUDED.tokens
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM taken) AS taken,
           array_agg(window_start ORDER BY window_start) AS starts,
           array_agg(requests ORDER BY window_start) AS requests,
           array_agg(tokens ORDER BY window_start) AS tokens
    FROM recent
    """
)

# Usage reported after the fact is added without the lock: it has already happened, so
# there is nothing to refuse. A negative correction never takes a slot below zero.
_ADD_TOKENS = text(
    """
    INSERT INTO rate_window AS w (bucket, window_start, requests, tokens)
    VALUES (:bucket, :slot, 0, GREATEST(:tokens, 0))
    ON CONFLICT (bucket, window_start) DO UPDATE
    SET tokens = GREATEST(w.tokens + :tokens, 0)
    """
)

_CLEAN = text("DELETE FROM rate_window WHERE window_start < :before")


@dataclass(frozen=True)
class _Slot:
    start: datetime
    requests: int
    tokens: int


class RateLimiter:
    """Requests-per-minute and tokens-per-minute limits, counted in Postgres."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._next_clean = clock.monotonic()

    async def acquire(
        self, bucket: str, *, rpm: int | None, tpm: int | None, tokens: int, max_wait_s: float
    ) -> bool:
        """Take a slot to send one call of about `tokens` tokens to `bucket` now.

        True: the slot is taken, send the call. False: no slot frees up within `max_wait_s`
        (go to the fallback). When the limits refuse, this waits for the moment the oldest
        counted slot leaves the span and tries again, as long as that is within `max_wait_s`.
        Without limits it answers True at once and touches nothing.
        """
        if rpm is None and tpm is None:
            return True
        tokens = max(tokens, 0)
        if tpm is not None and tokens > tpm:
            return False  # would not fit even into an empty minute: no wait can help
        deadline = self._clock.monotonic() + max(max_wait_s, 0.0)
        while True:
            wait_s = await self._take(bucket, rpm=rpm, tpm=tpm, tokens=tokens)
            if wait_s is None:
                await self._maybe_clean()
                return True
            if wait_s > deadline - self._clock.monotonic():
                return False
            # Never less than a millisecond, so a retry always finds time moved on.
            await self._clock.sleep(max(wait_s, 0.001))

    async def record_tokens(self, bucket: str, tokens: int, *, reserved: int = 0) -> None:
        """Count the `tokens` a call actually used (for tpm), once it has answered.

        `reserved` is what its `acquire` already counted (the estimate), so only the
        difference is added; an over-estimate is handed back.
        """
        extra = tokens - reserved
        if extra == 0:
            return
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                _ADD_TOKENS, {"bucket": bucket, "slot": _slot(self._clock.now()), "tokens": extra}
            )

    async def _take(
        self, bucket: str, *, rpm: int | None, tpm: int | None, tokens: int
    ) -> float | None:
        """Take a slot (None) or say in how many seconds one may be free."""
        now = self._clock.now()
        slot = _slot(now)
        params: dict[str, Any] = {
            "bucket": bucket,
            "slot": slot,
            "since": slot - SPAN + SLOT,
            "tokens": tokens,
            "rpm": rpm,
            "tpm": tpm,
        }
        async with self._sessionmaker() as session, session.begin():
            await session.execute(_LOCK, {"space": _LOCK_SPACE, "bucket": bucket})
            row = (await session.execute(_TAKE, params)).one()
        if row.taken:
            return None
        columns = (row.starts or [], row.requests or [], row.tokens or [])  # NULL: no rows
        slots = [_Slot(*values) for values in zip(*columns, strict=True)]
        return _wait_s(now, slots, rpm=rpm, tpm=tpm, tokens=tokens)

    async def _maybe_clean(self) -> None:
        # Once a minute per process is plenty: a bucket holds at most 61 live rows, and
        # the delete runs in its own short transaction, outside any bucket's lock.
        if self._clock.monotonic() < self._next_clean:
            return
        self._next_clean = self._clock.monotonic() + _CLEAN_EVERY_S
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(_CLEAN, {"before": self._clock.now() - _KEEP})
        log.debug("rate_windows_cleaned", deleted=getattr(result, "rowcount", None))


def _slot(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _wait_s(
    now: datetime, slots: list[_Slot], *, rpm: int | None, tpm: int | None, tokens: int
) -> float:
    """Seconds until enough of the oldest slots have left the span for one more call."""
    requests_left = sum(s.requests for s in slots)
    tokens_left = sum(s.tokens for s in slots)
    for oldest in slots:  # ascending by start
        requests_left -= oldest.requests
        tokens_left -= oldest.tokens
        if (rpm is None or requests_left + 1 <= rpm) and (
            tpm is None or tokens_left + tokens <= tpm
        ):
            return (oldest.start + SPAN - now).total_seconds()
    return math.inf  # not even an empty span would take it (a limit below one call)
