"""From attempts to verdicts: per-case and per-assertion pass rates. Pure functions.

A case passes when its pass rate over its repeats meets its `min_pass_rate`; an attempt
whose output was schema-invalid or that failed counts as failed. With `gate: wilson` the
rate judged is the lower bound of the pass rate's 95% Wilson score interval, which is how
sure k runs make us: 3 passes of 3 give 0.44, 19 of 20 give 0.76, so a few lucky runs of
a flaky case cannot meet `min_pass_rate: 0.9`. Each case also reports pass^k: whether
all of its k runs passed (1.0) or not (0.0). The run passes when every case passes; a run
with no cases passes vacuously.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.stats import wilson_lower


class Attempt(Protocol):
    """What a verdict needs of an attempt (a stored result or an in-process one)."""

    @property
    def case_name(self) -> str: ...

    @property
    def passed(self) -> bool: ...

    @property
    def assertions(self) -> list[Any]: ...


@dataclass(frozen=True)
class CaseVerdict:
    name: str
    min_pass_rate: float
    attempts: int
    passes: int
    assertion_rates: list[tuple[dict[str, Any], float, bool]] = field(default_factory=list)
    gate: str = "rate"

    @property
    def pass_rate(self) -> float:
        return self.passes / self.attempts if self.attempts else 0.0

    @property
    def pass_k(self) -> float:
        """pass^k: 1.0 when every one of the k runs passed, else 0.0."""
        return 1.0 if self.attempts and self.passes == self.attempts else 0.0

    @property
    def wilson_lower(self) -> float:
        return wilson_lower(self.passes, self.attempts)

    @property
    def judged_rate(self) -> float:
        """The rate `min_pass_rate` is held against: the observed one, or its lower bound."""
        return self.wilson_lower if self.gate == "wilson" else self.pass_rate

    @property
    def passed(self) -> bool:
        # A case with no attempt yet (or none at all) has not shown anything.
        return self.attempts > 0 and self.judged_rate + 1e-9 >= self.min_pass_rate


@dataclass(frozen=True)
class RunVerdict:
    cases: list[CaseVerdict]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.cases if not c.passed]


def case_verdict(case: dict[str, Any], attempts: Sequence[Attempt]) -> CaseVerdict:
    """The verdict of one case from its attempts."""
    rates: list[tuple[dict[str, Any], float, bool]] = []
    if attempts:
        width = max(len(a.assertions) for a in attempts)
        for position in range(width):
            checks = [a.assertions[position] for a in attempts if len(a.assertions) > position]
            # Attempts that never reached the assertion (no valid output) count against it.
            ok = sum(1 for c in checks if c["passed"])
            rates.append(
                (
                    checks[0]["assertion"],
                    ok / len(attempts),
                    all(c.get("evaluated", True) for c in checks),
                )
            )
    return CaseVerdict(
        name=str(case["name"]),
        min_pass_rate=float(case["min_pass_rate"]),
        attempts=len(attempts),
        passes=sum(1 for a in attempts if a.passed),
        assertion_rates=rates,
        gate=str(case.get("gate") or "rate"),
    )


def run_verdict(cases: Sequence[dict[str, Any]], attempts: Sequence[Attempt]) -> RunVerdict:
    """The verdict of every case of a run."""
    by_case: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_case.setdefault(attempt.case_name, []).append(attempt)
    return RunVerdict([case_verdict(c, by_case.get(str(c["name"]), [])) for c in cases])
