"""How fast each deployment answers, in this process: the leash of its next attempt and when
to hedge it.

Kept per deployment like a breaker's recent outcomes, but only in memory: a latency profile
matters for the next calls of this process, and a fresh process learns one within a few
dozen calls.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from app.core.setting_groups import CallOptions

_WINDOW = 200  # recent answers kept per deployment


@dataclass(slots=True)
class _Profile:
    answered_s: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    timed_out_at: float | None = None  # monotonic time of the latest timeout
    p95_s: float | None = None  # of answered_s, recomputed every few answers
    stale: int = 0  # answers since p95_s was computed


class PaceBook:
    """Recent answer latencies and timeouts of each deployment (by its breaker key)."""

    def __init__(self) -> None:
        self._profiles: dict[str, _Profile] = {}

    def answered(self, key: str, latency_ms: float) -> None:
        """A deployment answered (validly or not) after `latency_ms`."""
        profile = self._profile(key)
        profile.answered_s.append(latency_ms / 1000)
        profile.stale += 1

    def timed_out(self, key: str, now: float) -> None:
        """An attempt of the deployment hit its timeout at monotonic time `now`."""
        self._profile(key).timed_out_at = now

    def timed_out_within(self, key: str, now: float, memory_s: float) -> bool:
        """Whether the deployment timed out in the last `memory_s` seconds."""
        profile = self._profiles.get(key)
        at = profile.timed_out_at if profile is not None else None
        return at is not None and now - at <= memory_s

    def p95_s(self, key: str, min_samples: int) -> float | None:
        """The deployment's 95th percentile answer time, once it has answered `min_samples`
        times (None before)."""
        profile = self._profiles.get(key)
        if profile is None or len(profile.answered_s) < min_samples:
            return None
        # Sorting 200 floats on every call would cost more than the rest of the routing.
        if profile.p95_s is None or profile.stale >= 10:
            ordered = sorted(profile.answered_s)
            profile.p95_s = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
            profile.stale = 0
        return profile.p95_s

    def _profile(self, key: str) -> _Profile:
        profile = self._profiles.get(key)
        if profile is None:
            profile = self._profiles[key] = _Profile()
        return profile


@dataclass(frozen=True, slots=True)
class Leash:
    """How long one attempt of a deployment may take, and whether a timeout is retried."""

    timeout_s: float
    retry_timeouts: bool


def leash_for(
    options: CallOptions,
    pace: PaceBook,
    key: str,
    *,
    base_s: float,
    remaining_s: float,
    after: int,
    now: float,
) -> Leash:
    """The leash of a deployment's attempts when `after` candidates still wait behind it.

    The last candidate keeps the whole attempt timeout (`base_s`) and retries its timeouts.
    One with others behind it gets at most its fair share of the time left, so a hang
    leaves them room, and a timeout moves on rather than waiting again; after a recent
    timeout its leash is short: three times its p95, or `timed_out_leash_s` when it has
    not answered enough to have one.
    """
    if after <= 0:
        return Leash(base_s, retry_timeouts=True)
    timeout = min(base_s, remaining_s / (after + 1))
    if pace.timed_out_within(key, now, options.timeout_memory_s):
        p95 = pace.p95_s(key, options.hedge_min_samples)
        floor = options.timed_out_leash_s
        timeout = min(timeout, floor if p95 is None else max(3 * p95, floor))
    return Leash(timeout, retry_timeouts=False)


class HedgeBudget:
    """The cap on extra calls: each call earns `max_extra` of a hedge, each hedge spends one.

    At most `max_extra` of the calls are hedged over any long run; a short burst may use up
    to `burst` saved hedges.
    """

    def __init__(self, max_extra: float, burst: float = 10.0) -> None:
        self._rate = max_extra
        self._burst = burst
        self._tokens = 0.0

    def earn(self) -> None:
        """One call routed."""
        self._tokens = min(self._burst, self._tokens + self._rate)

    def spend(self) -> bool:
        """True (and one hedge spent) when a hedge is affordable."""
        if self._tokens < 1.0 - 1e-9:  # ten earnings of 0.1 sum to 0.9999…
            return False
        self._tokens -= 1.0
        return True
