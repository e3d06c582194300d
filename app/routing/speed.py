"""How fast each deployment reads and writes, measured from its replies, and the attempt
timeout that follows from it.

A reply's latency is taken as `prompt_tokens / read_rate + completion_tokens / write_rate`;
the two rates are fitted (least squares, non-negative) over the deployment's recent
replies. A CPU model reading a long prompt then gets minutes, a hosted one keeps seconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Enough replies to fit two rates; few enough that a model that got slower shows soon.
WINDOW = 32
MIN_SAMPLES = 3
# An attempt may take this many times its predicted time (plus a fixed allowance for the
# connection and the first token) before it counts as timed out.
SLACK = 3.0
ALLOWANCE_S = 5.0


@dataclass(frozen=True)
class Speed:
    """Seconds per prompt token and per output token (0 when too small to measure)."""

    read_s_per_token: float
    write_s_per_token: float

    def seconds(self, prompt_tokens: int, output_tokens: int) -> float:
        """The predicted time of a reply of these sizes."""
        return prompt_tokens * self.read_s_per_token + output_tokens * self.write_s_per_token


@dataclass
class SpeedBook:
    """Recent (prompt tokens, output tokens, seconds) per deployment, kept like latency."""

    _samples: dict[str, deque[tuple[int, int, float]]] = field(default_factory=dict)

    def record(self, key: str, prompt_tokens: int, completion_tokens: int, seconds: float) -> None:
        """One reply of `key` that answered (a failure says nothing about its speed)."""
        if seconds <= 0 or prompt_tokens + completion_tokens <= 0:
            return
        samples = self._samples.setdefault(key, deque(maxlen=WINDOW))
        samples.append((prompt_tokens, completion_tokens, seconds))

    def speed(self, key: str) -> Speed | None:
        """The fitted speed of `key`; None until it has answered a few times."""
        samples = self._samples.get(key)
        if not samples or len(samples) < MIN_SAMPLES:
            return None
        return _fit(list(samples))

    def longest_output(self, key: str) -> int:
        """The most output tokens a recent reply of `key` had (0 when none)."""
        return max((c for _, c, _ in self._samples.get(key, ())), default=0)

    def timeout_s(
        self, key: str, *, prompt_tokens: int, max_tokens: int | None, floor_s: float
    ) -> float:
        """The attempt timeout: `floor_s` (the configured one) until the speed is known, then
        enough for this prompt and output limit at the measured speed, never below `floor_s`."""
        speed = self.speed(key)
        if speed is None:
            return floor_s
        output = max_tokens or 2 * self.longest_output(key)
        predicted = speed.seconds(prompt_tokens, output)
        return max(floor_s, SLACK * predicted + ALLOWANCE_S)


def _fit(samples: list[tuple[int, int, float]]) -> Speed:
    """Non-negative least squares of seconds ≈ a·prompt + b·output (two unknowns, closed form)."""
    pp = sum(p * p for p, _, _ in samples)
    cc = sum(c * c for _, c, _ in samples)
    pc = sum(p * c for p, c, _ in samples)
    ps = sum(p * s for p, _, s in samples)
    cs = sum(c * s for _, c, s in samples)
    det = pp * cc - pc * pc
    if det > 1e-9:
        a, b = (ps * cc - cs * pc) / det, (cs * pp - ps * pc) / det
        if a >= 0 and b >= 0:
            return Speed(a, b)
    # One rate alone explains the replies best (or they all had the same shape).
    only_write = cs / cc if cc else 0.0
    only_read = ps / pp if pp else 0.0
    if cc and (not pp or _error(samples, 0.0, only_write) <= _error(samples, only_read, 0.0)):
        return Speed(0.0, only_write)
    return Speed(only_read, 0.0)


def _error(samples: list[tuple[int, int, float]], a: float, b: float) -> float:
    return sum((a * p + b * c - s) ** 2 for p, c, s in samples)
