"""Retention: expired months dropped whole, other expired records deleted in batches, raw
text cleared earlier, records named by test cases or job items kept, per-spec policies, and
the usage figures outliving the records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.setting_groups import WriterSettings
from app.executions.record import ExecutionRecord
from app.executions.retention import Removed, Retention
from app.executions.usage import usage_report
from app.models import Attempt, Execution, Job, JobItem, Spec, TestCase
from tests.executions.logged import log_connection, record, store
from tests.factories import create_spec

NOW = datetime.now(UTC)
OLD = datetime(2025, 1, 10, 12, tzinfo=UTC)


async def _run(sessionmaker: async_sessionmaker[AsyncSession], **config: int) -> Removed:
    async with log_connection(sessionmaker) as connection:
        return await Retention(WriterSettings(**config), pause_s=0).run_once(connection, NOW)


async def _months(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with log_connection(sessionmaker) as connection:
        rows = await connection.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'execution'::regclass ORDER BY 1"
        )
        return [name for (name,) in await rows.fetchall()]


async def _ids(sessionmaker: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    async with sessionmaker() as session:
        return set(await session.scalars(select(Execution.id)))


async def test_an_expired_month_is_dropped_whole_and_its_usage_stays(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    old = [record(OLD + timedelta(days=d)) for d in (0, 5, 35)]  # January and February
    recent = [record(NOW - timedelta(days=2))]
    await store(sessionmaker, old + recent)

    removed = await _run(sessionmaker, retention_days=30)

    assert removed.months == ["2025-01", "2025-02"]
    months = await _months(sessionmaker)
    assert "execution_y2025m01" not in months
    assert "execution_y2025m02" not in months
    assert await _ids(sessionmaker) == {recent[0].id}
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Attempt)) == 1
        report = await usage_report(
            session, since=OLD - timedelta(days=9), until=OLD + timedelta(days=50)
        )
    assert report.totals.calls == 3  # the numbers outlive the records


async def test_records_a_test_case_or_a_job_item_names_are_kept(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    old = [record(OLD + timedelta(hours=h)) for h in range(7)]
    await store(sessionmaker, old)
    async with sessionmaker() as session:
        spec = Spec(name="triage", title="Triage", latest_version=1)
        job = Job(agent="triage", version=1, owner="test", total=1)
        session.add_all([spec, job])
        await session.flush()
        session.add(
            TestCase(
                spec_id=spec.id, name="promoted", input={}, expect=[], origin="promoted",
                execution_id=old[0].id,
            )
        )  # fmt: skip
        session.add(JobItem(job_id=job.id, position=0, input={}, execution_id=old[1].id))
        await session.commit()

    removed = await _run(sessionmaker, retention_days=30, retention_batch=2)

    assert removed.months == []  # it still holds the two kept records
    assert removed.executions == 5  # in batches of two
    assert await _ids(sessionmaker) == {old[0].id, old[1].id}
    assert "execution_y2025m01" in await _months(sessionmaker)


async def test_raw_text_is_cleared_before_the_record_goes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    older = record(NOW - timedelta(days=10))
    newer = record(NOW - timedelta(days=1))
    await store(sessionmaker, [older, newer])

    removed = await _run(sessionmaker, retention_days=30, raw_text_retention_days=7)

    assert removed.raw_texts == 1
    assert removed.executions == 0
    async with sessionmaker() as session:
        texts = dict((await session.execute(select(Attempt.execution_id, Attempt.raw_text))).all())
    assert texts == {older.id: None, newer.id: '{"team": "billing"}'}


async def test_a_spec_keeps_its_records_longer_than_the_server_default(
    sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    await create_spec(client, "keeper", retention_days=400)
    kept = record(NOW - timedelta(days=60), agent="keeper")
    other = record(NOW - timedelta(days=60), agent="triage")
    await store(sessionmaker, [kept, other])

    removed = await _run(sessionmaker, retention_days=30)

    assert removed.executions == 1
    assert await _ids(sessionmaker) == {kept.id}


async def test_nothing_is_removed_without_a_policy(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    records: list[ExecutionRecord] = [record(OLD), record(NOW - timedelta(days=900))]
    await store(sessionmaker, records)
    removed = await _run(sessionmaker)
    assert removed == Removed()
    assert len(await _ids(sessionmaker)) == 2
    # The pass made this month and the next two ahead.
    ahead = (NOW.replace(day=1) + timedelta(days=62)).strftime("execution_y%Ym%m")
    assert ahead in await _months(sessionmaker)
