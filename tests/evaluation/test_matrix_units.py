"""The model matrix's pure parts: the ranking behind `recommended`, counting failed checks,
and the cost-vs-pass-rate chart."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, cast

import pytest

from app.core.errors import ChecksFailed, ProblemError
from app.evaluation.matrix import ranking
from app.evaluation.matrix_schemas import MatrixRow
from app.evaluation.runner import check_failures
from app.executions.record import AttemptRecord, start_record
from app.serving.result import CallResult
from app.web.charts import cost_pass_chart


def row(model: str, cost: float | None, p50: float = 10.0, **overrides: Any) -> MatrixRow:
    values: dict[str, Any] = {
        "model": model,
        "status": "passed",
        "test_run": uuid.uuid4(),
        "calls": 3,
        "pass_rate": 1.0,
        "wilson_lower": 0.44,
        "passed": True,
        "check_failures": 0,
        "invalid_rate": 0.0,
        "reasks_per_call": 0.0,
        "cost_usd_per_call": cost,
        "cost_usd": (cost or 0.0) * 3,
        "p50_latency_ms": p50,
        "p95_latency_ms": p50,
        "offline": False,
    }
    values.update(overrides)
    return MatrixRow(**values)


@dataclass(frozen=True)
class Case:
    rows: list[MatrixRow]
    expected: list[str]


CASES = {
    "cheapest passing first": Case(
        [row("dear", 0.01), row("cheap", 0.001), row("free", 0.0)], ["free", "cheap", "dear"]
    ),
    "a failing model is left out": Case(
        [row("dear", 0.01), row("cheapest", 0.0001, status="failed", passed=False)], ["dear"]
    ),
    "equal cost: the faster first": Case(
        [row("slow", 0.001, p50=900.0), row("quick", 0.001, p50=20.0)], ["quick", "slow"]
    ),
    "the offline model is no evidence": Case([row("fast", 0.0, offline=True)], []),
    "no valid call: no cost per valid call": Case([row("mute", None)], []),
    "still running: not yet passing": Case([row("busy", 0.001, status="running")], []),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_ranking(case: Case) -> None:
    assert ranking(case.rows) == case.expected


def result(outcomes: list[str], problem: ProblemError | None = None) -> CallResult:
    record = start_record("a", 1, {}, request_id=None, source="matrix")
    record.attempts = [
        AttemptRecord(number=i, kind="ask", model="m", outcome=cast(Any, o), latency_ms=1.0)
        for i, o in enumerate(outcomes, 1)
    ]
    return CallResult(record, None if problem else {"x": 1}, problem)


def test_check_failures_counts_attempts_else_the_failed_call() -> None:
    assert check_failures(result(["valid"])) == 0
    assert check_failures(result(["check_failed", "check_failed", "valid"])) == 2
    assert check_failures(result(["valid"], ChecksFailed("no"))) == 1
    assert check_failures(result(["check_failed"], ChecksFailed("no"))) == 1


def test_chart_places_dearer_models_right_and_better_ones_higher() -> None:
    svg = str(
        cost_pass_chart(
            [("dear", 0.01, 1.0), ("cheap", 0.0001, 1.0), ("cheapest", 0.00001, 0.0)],
            recommended="cheap",
        )
    )
    places = {
        m: (float(x), float(y), float(r))
        for x, y, r, m in re.findall(
            r'<circle cx="([\d.]+)" cy="([\d.]+)" r="(\d+)" fill="#\w+" data-model="(\w+)"', svg
        )
    }
    assert places["cheapest"][0] < places["cheap"][0] < places["dear"][0]
    assert places["cheap"][1] == places["dear"][1] < places["cheapest"][1]  # up is better
    assert places["cheap"][2] > places["dear"][2]  # the recommendation stands out
    assert "cheap (recommended)" in svg
