"""From attempts to verdicts: per-case and per-assertion pass rates. Pure functions.

A case passes when its pass rate over its repeats meets its `min_pass_rate`; an attempt
whose output was schema-invalid or that failed counts as failed. The run passes when every
case passes; a run with no cases passes vacuously.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


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

    @property
    def pass_rate(self) -> float:
        return self.passes / self.attempts if self.attempts else 0.0

    @property
    def passed(self) -> bool:
        # A case with no attempt yet (or none at all) has not shown anything.
        return self.attempts > 0 and self.pass_rate + 1e-9 >= self.min_pass_rate


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
    )


def run_verdict(cases: Sequence[dict[str, Any]], attempts: Sequence[Attempt]) -> RunVerdict:
    """The verdict of every case of a run."""
    by_case: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_case.setdefault(attempt.case_name, []).append(attempt)
    return RunVerdict([case_verdict(c, by_case.get(str(c["name"]), [])) for c in cases])
