"""How sure a pass rate over a few runs makes us: the Wilson score interval's lower bound."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the two-sided 95% normal quantile


def wilson_lower(passes: int, attempts: int, z: float = Z_95) -> float:
    """The lower bound of the Wilson score interval of a pass rate (0 with no passes)."""
    if attempts <= 0 or passes <= 0:
        return 0.0
    rate = passes / attempts
    spread = z * math.sqrt(rate * (1 - rate) / attempts + z * z / (4 * attempts * attempts))
    lower = (rate + z * z / (2 * attempts) - spread) / (1 + z * z / attempts)
    return max(0.0, lower)


def repeats_needed(min_rate: float, limit: int = 10_000) -> int | None:
    """The fewest runs, all passing, whose lower bound reaches `min_rate` (None: never)."""
    if min_rate >= 1:
        return None
    runs = 1
    while wilson_lower(runs, runs) + 1e-9 < min_rate:
        runs += 1
        if runs > limit:
            return None
    return runs
