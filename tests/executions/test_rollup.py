"""The hourly rollup equals the log it sums, and usage, charts and the agents list read it:
whole hours from the rollup, the partial hours at a window's ends from the log."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.executions.record import PRODUCTION, SOURCES, ExecutionRecord
from app.executions.rollup import BUCKETS, Window, bucket_of, percentile, split
from app.executions.series import agent_activity, call_series
from app.executions.usage import usage_report
from tests.executions.logged import record, store

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

# The figures usage used to compute from the log on every request: the reference.
_RAW_ITEMS = """
SELECT (e.created_at AT TIME ZONE 'UTC')::date, e.agent, e.version, a.model, count(*),
    sum(a.prompt_tokens), sum(a.completion_tokens), sum(a.cost_usd)::float8
FROM execution e JOIN attempt a ON a.execution_id = e.id
WHERE a.kind <> 'skip' AND e.source = ANY(:sources) AND e.created_at >= :since
    AND e.created_at < :until
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
_RAW_TOTALS = """
SELECT count(*), count(*) FILTER (WHERE status = 'failed'), coalesce(sum(prompt_tokens), 0),
    coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0)::float8
FROM execution WHERE source = ANY(:sources) AND created_at >= :since AND created_at < :until
"""


def _mixed_log(seed: int = 7) -> list[ExecutionRecord]:
    """Three days of calls from two agents: several versions, models, sources, failures,
    fallbacks and skipped models, at minutes that fall anywhere in their hour."""
    rng = random.Random(seed)
    records = []
    for _ in range(400):
        at = T0 + timedelta(minutes=rng.randrange(3 * 24 * 60), seconds=rng.random())
        attempts: Any = rng.choice(
            [
                (("ask", "small", 0.001),),
                (("ask", "small", 0.001), ("fallback", "large", 0.01)),
                (("skip", "small", 0.0), ("ask", "large", 0.01)),
            ]
        )
        records.append(
            record(
                at,
                agent=rng.choice(["triage", "extract"]),
                version=rng.choice([1, 2, None]),
                source=rng.choice(SOURCES),
                failed=rng.random() < 0.2,
                latency_ms=rng.uniform(5, 3000),
                attempts=attempts,
            )
        )
    return records


async def _reference(
    session: AsyncSession, since: datetime, until: datetime, sources: tuple[str, ...]
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    params = {"sources": list(sources), "since": since, "until": until}
    items = [tuple(r) for r in (await session.execute(text(_RAW_ITEMS), params)).all()]
    totals = tuple((await session.execute(text(_RAW_TOTALS), params)).one())
    return items, totals


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (T0, T0 + timedelta(days=3)),  # whole hours: the rollup alone
        (T0 + timedelta(minutes=17), T0 + timedelta(days=2, minutes=41)),  # ragged ends
        (T0 - timedelta(hours=9), T0 + timedelta(days=3)),  # whole days
        (T0 + timedelta(hours=5, minutes=10), T0 + timedelta(hours=5, minutes=50)),  # inside
        (T0 + timedelta(hours=5, minutes=10), T0 + timedelta(hours=6, minutes=50)),
    ],
)
async def test_usage_equals_the_log_for_any_window(
    sessionmaker: async_sessionmaker[AsyncSession], since: datetime, until: datetime
) -> None:
    records = _mixed_log()
    await store(sessionmaker, records[:150], records[150:])  # two batches meet in the rollup
    async with sessionmaker() as session:
        for sources in (PRODUCTION, SOURCES, ("test",)):
            items, totals = await _reference(session, since, until, sources)
            report = await usage_report(session, since=since, until=until, sources=sources)
            got = [
                (r.day, r.agent, r.version, r.model, r.attempts, r.prompt_tokens,
                 r.completion_tokens, pytest.approx(r.cost_usd))
                for r in report.items
            ]  # fmt: skip
            assert sorted(got, key=str) == sorted(items, key=str)
            t = report.totals
            assert (t.calls, t.failed, t.prompt_tokens, t.completion_tokens) == totals[:4]
            assert t.cost_usd == pytest.approx(totals[4])
            assert t.calls > 0 or sources != SOURCES


async def test_usage_of_whole_hours_is_read_from_the_rollup_not_the_log(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Whole hours never touch the log: the figures stand once its rows are gone (so the
    numbers outlive the raw records retention removes)."""
    await store(sessionmaker, [record(T0 + timedelta(minutes=m)) for m in (1, 30, 59)])
    async with sessionmaker() as session:
        await session.execute(text("DELETE FROM attempt"))
        await session.execute(text("DELETE FROM execution"))
        await session.commit()
        whole = await usage_report(session, since=T0, until=T0 + timedelta(hours=1))
        ragged = await usage_report(session, since=T0 + timedelta(minutes=5))
    assert whole.totals.calls == 3
    assert whole.items[0].attempts == 3
    assert ragged.totals.calls == 0  # minutes 5..60 are read from the (now empty) log


async def test_usage_without_a_window_is_every_hour_of_the_rollup(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    records = _mixed_log(seed=3)
    await store(sessionmaker, records)
    async with sessionmaker() as session:
        report = await usage_report(session, sources=SOURCES)
        _, totals = await _reference(
            session, T0 - timedelta(days=1), T0 + timedelta(days=9), SOURCES
        )
    assert report.totals.calls == totals[0] == len(records)
    assert report.totals.failed == totals[1]


async def test_activity_and_series_equal_the_log(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    records = _mixed_log(seed=5)
    await store(sessionmaker, records)
    since = T0 + timedelta(hours=7, minutes=23)
    async with sessionmaker() as session:
        activity = await agent_activity(session, since=since)
        points = await call_series(session, agent="triage", since=since, bucket_s=6 * 3600)
        fine = await call_series(session, agent="triage", since=since, bucket_s=300)
    mine = [r for r in records if r.created_at >= since and r.source in PRODUCTION]
    for agent in ("triage", "extract"):
        calls = [r for r in mine if r.agent == agent]
        assert activity[agent].calls == len(calls)
        assert activity[agent].failed == sum(r.status == "failed" for r in calls)
        assert activity[agent].cost_usd == pytest.approx(sum(r.cost_usd for r in calls))
    triage = [r for r in mine if r.agent == "triage"]
    assert sum(p.calls for p in points) == sum(p.calls for p in fine) == len(triage)
    assert sum(p.failed for p in points) == sum(r.status == "failed" for r in triage)
    assert all(p.start.timestamp() % (6 * 3600) == 0 for p in points)
    assert all(0 < p.p50_ms <= p.p95_ms for p in points)


@dataclass(frozen=True)
class SplitCase:
    name: str
    since: datetime | None
    until: datetime | None
    expected: Window


H = timedelta(hours=1)
M = timedelta(minutes=1)
A, B, C = T0 + 5 * M, T0 + 9 * M, T0 + H + 9 * M  # inside the first hour, and the second
D = timedelta(days=1)
SPLITS = [
    SplitCase("open", None, None, Window(days=None, hours=((None, None),), raw=())),
    SplitCase("on the hour", T0, T0 + 3 * H, Window(days=None, hours=((T0, T0 + 3 * H),), raw=())),
    SplitCase(
        "ragged",
        A,
        T0 + 3 * H + 9 * M,
        Window(
            days=None,
            hours=((T0 + H, T0 + 3 * H),),
            raw=((A, T0 + H), (T0 + 3 * H, T0 + 3 * H + 9 * M)),
        ),
    ),
    SplitCase("within an hour", A, B, Window(days=None, hours=(), raw=((A, B),))),
    SplitCase("across one boundary", A, C, Window(days=None, hours=(), raw=((A, C),))),
    SplitCase(
        "since only", A, None, Window(days=None, hours=((T0 + H, None),), raw=((A, T0 + H),))
    ),
]
MIDNIGHT = T0.replace(hour=0)
DAY_SPLITS = [
    SplitCase(
        "whole days between ragged hours",
        A,
        MIDNIGHT + 3 * D + 2 * H + 9 * M,
        Window(
            days=(MIDNIGHT + D, MIDNIGHT + 3 * D),
            hours=((T0 + H, MIDNIGHT + D), (MIDNIGHT + 3 * D, MIDNIGHT + 3 * D + 2 * H)),
            raw=((A, T0 + H), (MIDNIGHT + 3 * D + 2 * H, MIDNIGHT + 3 * D + 2 * H + 9 * M)),
        ),
    ),
    SplitCase("open days", None, None, Window(days=(None, None), hours=(), raw=())),
    SplitCase(
        "since, no end",
        A,
        None,
        Window(days=(MIDNIGHT + D, None), hours=((T0 + H, MIDNIGHT + D),), raw=((A, T0 + H),)),
    ),
    SplitCase(
        "less than a day",
        A,
        T0 + 5 * H,
        Window(days=None, hours=((T0 + H, T0 + 5 * H),), raw=((A, T0 + H),)),
    ),
]


@pytest.mark.parametrize("case", SPLITS, ids=lambda c: c.name)
def test_a_window_splits_into_whole_hours_and_ragged_ends(case: SplitCase) -> None:
    assert split(case.since, case.until) == case.expected


@pytest.mark.parametrize("case", DAY_SPLITS, ids=lambda c: c.name)
def test_usage_windows_split_into_whole_days_too(case: SplitCase) -> None:
    assert split(case.since, case.until, days=True) == case.expected


def test_percentiles_from_the_histogram_are_within_a_bucket_of_exact() -> None:
    rng = random.Random(1)
    latencies = sorted(rng.lognormvariate(5, 1) for _ in range(5000))
    histogram = [0] * BUCKETS
    for ms in latencies:
        histogram[bucket_of(ms)] += 1
    for q in (0.5, 0.95, 0.99):
        exact = latencies[int(q * len(latencies))]
        assert percentile(histogram, q) == pytest.approx(exact, rel=0.19)
    assert percentile([0] * BUCKETS, 0.5) == 0.0
    assert bucket_of(0.3) == 0
    assert bucket_of(1e9) == BUCKETS - 1


async def test_the_histogram_buckets_of_python_and_postgres_agree(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from app.executions.rollup import BUCKET_SQL

    values = [0.0, 0.5, 1.0, 1.5, 2.0, 2**0.25, 2**2.75, 3.7, 16.0, 100.0, 123.4, 1024.0]
    values += [2999.9, 60000.0, 2**19.75, 1e9]
    async with sessionmaker() as session:
        query = text(
            f"SELECT {BUCKET_SQL.format(ms='x.v')} FROM (SELECT CAST(:v AS float8) AS v) x"
        )
        got = [(await session.execute(query, {"v": v})).scalar() for v in values]
    assert got == [bucket_of(v) for v in values]
