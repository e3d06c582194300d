"""A slow or hanging model never costs the call its healthy fallback: attempt timeouts that
leave room for the candidates behind, a short leash after a timeout, and hedging."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from app.core.setting_groups import CallOptions
from app.routing.pace import HedgeBudget, Leash, PaceBook, leash_for
from tests.fakes.upstream import Delay, FakeUpstream, Hang, Valid
from tests.serving.conftest import ApiFactory, execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
PRIMARY_AND_BACKUP = {"name": "fast", "fallbacks": ["smart"]}


def _kinds(record: dict[str, object]) -> list[tuple[str, str]]:
    attempts = record["attempts"]
    assert isinstance(attempts, list)
    return [(a["kind"], a["outcome"]) for a in attempts]


async def test_a_hanging_primary_moves_to_the_healthy_fallback(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    # The defaults scaled down 15x (30 s attempts, 60 s deadline): before, the timeout was
    # retried on the hanging model until the deadline ran out, and the call ended in 504.
    async with make_api(attempt_timeout_s=2.0, call_deadline_s=4.0, max_retries=2) as api:
        await live_agent(api, model=PRIMARY_AND_BACKUP)
        upstream.default = Hang(30.0)
        upstream.script(*[Valid()] * 4, model="fake-smart")
        started = time.monotonic()
        first = await api.post("/v1/agents/ticket-triage", json=INPUT)
        first_s = time.monotonic() - started
        started = time.monotonic()
        second = await api.post("/v1/agents/ticket-triage", json=INPUT)
        second_s = time.monotonic() - started
        first_record = await execution(api, first)
        second_record = await execution(api, second)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-specloom-model"] == "openai/fake-smart"
    assert 2.0 <= first_s < 3.0  # one attempt timeout, then the backup
    assert _kinds(first_record) == [("ask", "timeout"), ("fallback", "valid")]
    # The primary timed out a moment ago: its leash is short now.
    assert second_s < 1.0
    assert _kinds(second_record) == [("ask", "timeout"), ("fallback", "valid")]


async def test_a_timeout_is_still_retried_when_no_fallback_waits(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(attempt_timeout_s=0.3, retry_base_s=0.01, max_retries=1) as api:
        await live_agent(api, model={"name": "fast"})
        upstream.script(Hang(3.0), Valid(), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert response.status_code == 200
    assert _kinds(record) == [("ask", "timeout"), ("retry", "valid")]


@pytest.mark.parametrize(
    ("server", "spec"),
    [(True, None), (False, True)],
    ids=["the server hedges", "the spec asks for hedging"],
)
async def test_a_slow_primary_is_hedged_and_the_loser_recorded(
    make_api: ApiFactory, upstream: FakeUpstream, server: bool, spec: bool | None
) -> None:
    async with make_api(hedge=server, hedge_min_samples=5, hedge_max_extra=1.0) as api:
        await live_agent(api, model=PRIMARY_AND_BACKUP | {"hedge": spec})
        upstream.script(*[Delay(0.05, Valid())] * 5, model="fake-fast")
        for _ in range(5):  # the primary's p95 is about 50 ms now
            assert (await api.post("/v1/agents/ticket-triage", json=INPUT)).status_code == 200
        upstream.script(Hang(5.0), model="fake-fast")
        started = time.monotonic()
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        elapsed = time.monotonic() - started
        record = await execution(api, response)
    assert response.status_code == 200
    assert elapsed < 1.0
    assert response.headers["x-specloom-model"] == "openai/fake-smart"
    assert sorted(_kinds(record)) == [("ask", "cancelled"), ("hedge", "valid")]


async def test_a_spec_can_turn_hedging_off(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    async with make_api(hedge=True, hedge_min_samples=3, hedge_max_extra=1.0) as api:
        await live_agent(api, model=PRIMARY_AND_BACKUP | {"hedge": False})
        upstream.script(*[Delay(0.02, Valid())] * 3, Delay(0.3, Valid()), model="fake-fast")
        for _ in range(4):
            response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert _kinds(record) == [("ask", "valid")]
    assert upstream.calls("fake-smart") == 0


async def test_hedging_stays_within_its_cap(make_api: ApiFactory, upstream: FakeUpstream) -> None:
    async with make_api(hedge=True, hedge_min_samples=3, hedge_max_extra=0.0) as api:
        await live_agent(api, model=PRIMARY_AND_BACKUP)
        upstream.script(*[Delay(0.02, Valid())] * 3, Delay(0.2, Valid()), model="fake-fast")
        for _ in range(4):
            response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert _kinds(record) == [("ask", "valid")]
    assert upstream.calls("fake-smart") == 0


@dataclass(frozen=True)
class Case:
    name: str
    remaining_s: float
    after: int
    timed_out: bool
    answers_ms: tuple[float, ...]
    expected: Leash


OPTIONS = CallOptions(attempt_timeout_s=30.0, hedge_min_samples=3)


@pytest.mark.parametrize(
    "case",
    [
        Case("last candidate keeps it all", 60, 0, True, (), Leash(30.0, retry_timeouts=True)),
        Case("fair share of what is left", 40, 1, False, (), Leash(20.0, retry_timeouts=False)),
        Case("capped by the attempt timeout", 60, 1, False, (), Leash(30.0, False)),
        Case("short after a timeout", 60, 1, True, (), Leash(0.5, False)),
        Case("three p95s after a timeout", 60, 2, True, (900, 1000, 1000), Leash(3.0, False)),
    ],
    ids=lambda case: case.name,
)
def test_leash(case: Case) -> None:
    pace = PaceBook()
    for ms in case.answers_ms:
        pace.answered("k", ms)
    if case.timed_out:
        pace.timed_out("k", now=100.0)
    leash = leash_for(
        OPTIONS, pace, "k", base_s=30.0, remaining_s=case.remaining_s, after=case.after, now=110
    )
    assert leash == case.expected


def test_hedge_budget_allows_its_share_of_calls() -> None:
    budget = HedgeBudget(max_extra=0.1)
    spent = 0
    for _ in range(1000):
        budget.earn()
        spent += budget.spend()
    assert spent == 100
