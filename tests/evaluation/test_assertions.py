"""The assertion engine, table-driven: every kind passes, fails, misses its field, meets a
wrong type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from app.compiler.document import Assertion
from app.evaluation.assertions import evaluate, resolve

OUTPUT: dict[str, Any] = {
    "category": "billing",
    "score": 0.82,
    "count": 3,
    "flag": True,
    "tags": ["refund", "urgent"],
    "summary": "Customer was charged twice",
    "nested": {"a/b": {"x~y": 1}},
    "nothing": None,
}


@dataclass(frozen=True)
class Case:
    name: str
    assertion: dict[str, Any]
    passed: bool
    message: str = ""  # a substring of the message


CASES = [
    # equals
    Case("equals pass", {"path": "/category", "equals": "billing"}, True),
    Case("equals fail", {"path": "/category", "equals": "other"}, False, "expected 'other'"),
    Case("equals missing", {"path": "/absent", "equals": 1}, False, "no field at /absent"),
    Case("equals wrong type", {"path": "/flag", "equals": 1}, False, "expected 1, got True"),
    Case("equals int float", {"path": "/count", "equals": 3.0}, True),
    Case("equals null", {"path": "/nothing", "equals": None}, True),
    Case("equals null fails", {"path": "/count", "equals": None}, False),
    Case("equals whole output", {"equals": OUTPUT}, True),
    # one_of
    Case("one_of pass", {"path": "/category", "one_of": ["billing", "tech"]}, True),
    Case("one_of fail", {"path": "/category", "one_of": ["tech"]}, False, "is not one of"),
    Case("one_of missing", {"path": "/absent", "one_of": ["x"]}, False, "no field"),
    Case("one_of wrong type", {"path": "/count", "one_of": ["3"]}, False, "is not one of"),
    # matches
    Case("matches pass", {"path": "/summary", "matches": "charged\\s+twice"}, True),
    Case("matches fail", {"path": "/summary", "matches": "^refund"}, False, "does not match"),
    Case("matches missing", {"path": "/absent", "matches": "."}, False, "no field"),
    Case("matches wrong type", {"path": "/count", "matches": "3"}, False, "got a number"),
    # contains
    Case("contains substring", {"path": "/summary", "contains": "charged"}, True),
    Case("contains item", {"path": "/tags", "contains": "urgent"}, True),
    Case("contains fail string", {"path": "/summary", "contains": "zzz"}, False, "not contain"),
    Case("contains fail array", {"path": "/tags", "contains": "x"}, False, "is not an item"),
    Case("contains missing", {"path": "/absent", "contains": "x"}, False, "no field"),
    Case("contains wrong type", {"path": "/count", "contains": 3}, False, "got a number"),
    # min / max
    Case("min max pass", {"path": "/score", "min": 0, "max": 1}, True),
    Case("min fail", {"path": "/score", "min": 0.9}, False, "is not at least 0.9"),
    Case("max fail", {"path": "/count", "max": 2}, False, "is not at most 2"),
    Case("min missing", {"path": "/absent", "min": 0}, False, "no field"),
    Case("min wrong type", {"path": "/category", "min": 0}, False, "got a string"),
    Case("max bool is not number", {"path": "/flag", "max": 5}, False, "got a boolean"),
    # tolerance
    Case("tolerance pass", {"path": "/score", "equals": 0.8, "tolerance": 0.05}, True),
    Case("tolerance edge", {"path": "/count", "equals": 2, "tolerance": 1}, True),
    Case("tolerance fail", {"path": "/score", "equals": 0.5, "tolerance": 0.1}, False, "within"),
    Case("tolerance missing", {"path": "/absent", "equals": 1, "tolerance": 1}, False, "no field"),
    Case(
        "tolerance wrong type",
        {"path": "/category", "equals": 1, "tolerance": 1},
        False,
        "expected a number",
    ),
    # length
    Case("length string", {"path": "/category", "length": 7}, True),
    Case("length array", {"path": "/tags", "length": 2}, True),
    Case("length fail", {"path": "/tags", "length": 3}, False, "length 2, expected 3"),
    Case("length missing", {"path": "/absent", "length": 1}, False, "no field"),
    Case("length wrong type", {"path": "/count", "length": 1}, False, "got a number"),
    # exists
    Case("exists pass", {"path": "/category", "exists": True}, True),
    Case("exists null counts", {"path": "/nothing", "exists": True}, True),
    Case("exists fail", {"path": "/absent", "exists": True}, False, "no field"),
    Case("absent pass", {"path": "/absent", "exists": False}, True),
    Case("absent fail", {"path": "/category", "exists": False}, False, "expected absent"),
    Case("exists array index", {"path": "/tags/1", "exists": True}, True),
    Case("exists bad index", {"path": "/tags/01", "exists": True}, False, "no field"),
    Case("exists wrong type", {"path": "/count/x", "exists": True}, False, "no field"),
    Case("escaped pointer", {"path": "/nested/a~1b/x~0y", "equals": 1}, True),
    # judge: never silently passing
    Case("judge not evaluated", {"path": "/summary", "judge": "polite"}, False, "not evaluated"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_assertion(case: Case) -> None:
    result = evaluate(Assertion.model_validate(case.assertion), OUTPUT)
    assert result.passed is case.passed, result.message
    assert case.message in result.message
    assert result.assertion["path"] == case.assertion.get("path", "")


def test_actual_is_recorded() -> None:
    result = evaluate(Assertion(path="/score", min=0.9), OUTPUT)
    assert result.actual == 0.82
    assert not result.passed


def test_judge_is_marked_not_evaluated() -> None:
    result = evaluate(Assertion(path="", judge="be polite"), OUTPUT)
    assert result.evaluated is False
    assert result.passed is False


def test_resolve_rejects_relative_pointer() -> None:
    assert resolve(OUTPUT, "category") is not OUTPUT["category"]
