"""What a call gives back: the output or the problem, and the call's execution record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import ProblemError
from app.executions.record import ExecutionRecord


@dataclass
class CallResult:
    """The answer to one call, and its record."""

    record: ExecutionRecord
    output: dict[str, Any] | None
    problem: ProblemError | None
    # False when the answer is not the spec's usual one (a budget routed it to a cheaper
    # model), so it must not be served to later identical calls.
    cacheable: bool = True
    # Whether the response cache took part (a lookup, or a share of an identical call).
    cached: bool = False

    @property
    def check_warnings(self) -> list[str]:
        """The checks that only warn which the returned answer failed, by name."""
        found = (i.get("check") for i in self.record.answer_issues())
        return list(dict.fromkeys(name for name in found if name))
