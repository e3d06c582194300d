"""Test runs show in `/metrics`: runs by outcome, attempts by result, case pass rates."""

from __future__ import annotations

import httpx

from tests.evaluation.helpers import BILLING, SALES, case_body, start_run
from tests.factories import create_spec
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.test_metrics import moved, scrape


async def test_a_run_moves_the_test_metrics(api: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    await create_spec(api, "metered")
    await api.post("/api/specs/metered/cases", json=case_body(repeat=3, min_pass_rate=0.9))
    before = await scrape(api)
    upstream.script(Valid(BILLING), Valid(BILLING), Valid(SALES))

    run = await start_run(api, "metered", 1)
    assert run["status"] == "failed"

    after = await scrape(api)
    assert moved(before, after, "specloom_test_runs_total", spec="metered", outcome="failed") == 1
    assert moved(before, after, "specloom_test_runs_total", spec="metered", outcome="passed") == 0
    assert (
        moved(before, after, "specloom_test_attempts_total", spec="metered", result="passed") == 2
    )
    assert (
        moved(before, after, "specloom_test_attempts_total", spec="metered", result="failed") == 1
    )
    assert moved(before, after, "specloom_test_case_pass_rate_count", spec="metered") == 1
    # 2/3 falls in the 0.75 bucket but not the 0.6 one.
    assert (
        moved(before, after, "specloom_test_case_pass_rate_bucket", spec="metered", le="0.75") == 1
    )
    assert (
        moved(before, after, "specloom_test_case_pass_rate_bucket", spec="metered", le="0.6") == 0
    )
    assert moved(before, after, "specloom_test_run_seconds_count", spec="metered") == 1
