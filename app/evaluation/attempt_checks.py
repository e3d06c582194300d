"""What one test attempt showed: the schema entry, the case's assertions and the spec's checks.

Each entry is `{assertion, passed, actual, message, evaluated}`; the run's verdict turns
them into per-case pass rates, so a case reports how often each of the spec's checks held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.compiler.document import Assertion
from app.core.errors import ChecksFailed
from app.evaluation.assertions import evaluate
from app.serving.result import CallResult


def check_result(
    result: CallResult, expect: list[Any], spec_checks: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The implicit schema check, every assertion (only when there is an output), then one
    entry per spec check (`spec_checks`, by name) saying whether the answer held it."""
    schema_ok = result.output is not None
    problem = result.problem.detail if result.problem is not None else "no output"
    checks: list[dict[str, Any]] = [
        {
            "assertion": {"schema": True},
            "passed": schema_ok,
            "actual": None,
            "message": "output is schema-valid" if schema_ok else problem,
            "evaluated": True,
        }
    ]
    if schema_ok:
        checks += [evaluate(Assertion.model_validate(a), result.output).public() for a in expect]
    return checks + spec_check_entries(result, spec_checks)


def spec_check_entries(result: CallResult, names: Sequence[str]) -> list[dict[str, Any]]:
    """Whether the attempt's answer held each of the spec's checks, for the report.

    Advisory: they never decide an attempt on their own. A check that is an error and
    fails leaves no answer, which the schema entry already counts; one that only warns (or
    any check on the offline model's placeholder answers) does not fail the case.
    """
    failed = failed_checks(result)
    evaluated = result.output is not None or isinstance(result.problem, ChecksFailed)
    return [
        {
            "assertion": {"check": name},
            "passed": evaluated and name not in failed,
            "actual": None,
            "message": _said(name, failed.get(name), evaluated),
            "evaluated": evaluated,
            "advisory": True,
        }
        for name in names
    ]


def _said(name: str, failure: str | None, evaluated: bool) -> str:
    if not evaluated:
        return f"check {name!r} not evaluated: no answer"
    return f"check {name!r} holds" if failure is None else f"check {name!r} failed: {failure}"


def failed_checks(result: CallResult) -> dict[str, str]:
    """The checks the call's answer failed, by name, with the first message of each."""
    if isinstance(result.problem, ChecksFailed):
        issues = [(i.check, i.message) for i in result.problem.issues or []]
    else:
        answered = result.record.answer_issues()
        issues = [(i.get("check"), i.get("message", "")) for i in answered]
    found: dict[str, str] = {}
    for name, message in issues:
        if name:
            found.setdefault(name, message)
    return found


def attempt_passed(checks: list[dict[str, Any]]) -> bool:
    """An attempt passes when every entry that counts (not the advisory check entries) does."""
    return all(c["passed"] for c in checks if not c.get("advisory"))
