"""Budgets count the spend a process has not written yet: a slow writer, a database away or
a coming crash never lets this process spend past a budget."""

from __future__ import annotations

from tests.fakes.upstream import FakeUpstream
from tests.serving.conftest import ApiFactory, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}


async def test_a_budget_counts_spend_still_waiting_for_the_writer(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    # Records are written only at shutdown: the database never sees the first call's spend.
    async with make_api(budget_refresh_s=0, execution_flush_interval_s=30.0) as api:
        await live_agent(api, model={"name": "fast"})
        created = await api.post(
            "/api/budgets",
            json={
                "scope": "agent",
                "agent": "ticket-triage",
                "period": "day",
                "limit_usd": "0.000001",
            },
        )
        assert created.status_code == 201, created.text
        first = await api.post("/v1/agents/ticket-triage", json=INPUT)
        second = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert first.status_code == 200
    assert float(first.headers["x-specloom-cost-usd"]) > 1e-6
    assert second.status_code == 429
    assert upstream.calls() == 1
