"""Test runs report, per case, how often each of the spec's checks held."""

from __future__ import annotations

import httpx
import pytest

from tests.evaluation.helpers import BILLING, case_body, start_run
from tests.factories import create_spec
from tests.fakes.upstream import FakeUpstream, Valid

NOT_URGENT = {"team": "billing", "priority": "urgent", "summary": "Double charge"}
CHECKS = [
    {
        "name": "billing-not-urgent",
        "assert": "output.team != 'billing' || output.priority != 'urgent'",
        "message": "a billing question is never urgent",
    },
    {
        "name": "short-summary",
        "assert": "size(output.summary) <= 20",
        "message": "keep the summary short",
        "severity": "warn",
    },
]


async def test_a_run_reports_each_check_per_case(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage", checks=CHECKS)
    body = case_body(repeat=2, min_pass_rate=0.5)
    assert (await api.post("/api/specs/triage/cases", json=body)).status_code == 201
    long = {**BILLING, "summary": "A customer was charged twice"}
    # Repeat 1: urgent (refused), re-asked, then a long summary (a warning). Repeat 2: fine.
    upstream.script(Valid(NOT_URGENT), Valid(long), Valid(BILLING))

    run = await start_run(api, "triage", 1)

    [outcome] = run["cases"]
    rates = {
        a["assertion"]["check"]: a["pass_rate"]
        for a in outcome["assertions"]
        if "check" in a["assertion"]
    }
    assert rates == {"billing-not-urgent": 1.0, "short-summary": pytest.approx(0.5)}
    # A warning is reported, not counted: both repeats pass.
    assert outcome["pass_rate"] == 1.0
    warned = next(r for r in outcome["runs"] if r["output"] == long)
    short = next(a for a in warned["assertions"] if a["assertion"] == {"check": "short-summary"})
    assert (short["passed"], short["message"]) == (
        False,
        "check 'short-summary' failed: keep the summary short",
    )


async def test_a_check_that_never_holds_fails_the_case(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await create_spec(api, "triage", checks=CHECKS[:1])
    assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201
    upstream.default = Valid(NOT_URGENT)
    try:
        run = await start_run(api, "triage", 1)
    finally:
        upstream.default = Valid()

    [outcome] = run["cases"]
    assert outcome["passed"] is False
    [attempt] = outcome["runs"]
    check = next(
        a for a in attempt["assertions"] if a["assertion"] == {"check": "billing-not-urgent"}
    )
    assert (check["passed"], check["message"]) == (
        False,
        "check 'billing-not-urgent' failed: a billing question is never urgent",
    )
    assert "checks-failed" in attempt["error"]["type"]
