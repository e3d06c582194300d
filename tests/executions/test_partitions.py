"""The execution log's monthly partitions: the migration converts a log with rows in it and
back without losing one, and a write into a month not made yet makes it."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from alembic import command
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.database import SCHEMA_HEAD, alembic_config, sync_conninfo
from app.executions.usage import usage_report
from tests.executions.logged import record, store

# Rows as a log of 0009 held them: three months, attempts written a little after their call.
_ROWS = """
INSERT INTO execution (id, agent, version, status, input, cache, model, offline, latency_ms,
    prompt_tokens, completion_tokens, cost_usd, source, created_at)
SELECT gen_random_uuid(), 'triage', 1, CASE WHEN i % 5 = 0 THEN 'failed' ELSE 'succeeded' END,
    '{"text": "hi"}', 'miss', 'small', false, 40 + i, 10, 5, 0.001,
    CASE WHEN i % 3 = 0 THEN 'test' ELSE 'api' END, t
FROM generate_series(1, 30) AS i,
    unnest(ARRAY['2025-03-31 23:59:59.9+00', '2026-11-15 10:00+00', now()]::timestamptz[]) AS t;
INSERT INTO attempt (id, execution_id, number, kind, model, outcome, latency_ms,
    prompt_tokens, completion_tokens, cost_usd, created_at)
SELECT gen_random_uuid(), id, 1, 'ask', 'small', 'valid', latency_ms, 10, 5, 0.001,
    created_at + interval '1 second'
FROM execution;
"""

_COUNTS = "SELECT (SELECT count(*) FROM execution), (SELECT count(*) FROM attempt)"
_KIND = "SELECT relkind::text FROM pg_class WHERE relname = 'execution'"
_MONTHS = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'execution'::regclass ORDER BY 1
"""


def _one(conninfo: str, query: str) -> tuple[object, ...]:
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(query).fetchone()
        assert row is not None
        return tuple(row)


def test_the_migration_partitions_a_log_with_rows_and_back_without_losing_one(
    database_url: str,
) -> None:
    config, conninfo = alembic_config(database_url), sync_conninfo(database_url)
    command.downgrade(config, "0011_model_matrix")
    with psycopg.connect(conninfo) as connection:
        connection.execute(_ROWS)
    assert _one(conninfo, _COUNTS) == (90, 90)

    command.upgrade(config, SCHEMA_HEAD)
    assert _one(conninfo, _COUNTS) == (90, 90)
    assert _one(conninfo, _KIND) == ("p",)
    with psycopg.connect(conninfo) as connection:
        months = [name for (name,) in connection.execute(_MONTHS)]
        assert "execution_y2025m03" in months  # 23:59:59.9 on the 31st stays in March
        assert "execution_y2026m11" in months
        assert len(months) >= 5  # the months of the rows, this one and two ahead
        # An attempt takes its call's time (and month); the rollup holds every row.
        apart = connection.execute(
            "SELECT count(*) FROM attempt a JOIN execution e ON e.id = a.execution_id "
            "WHERE a.created_at <> e.created_at"
        ).fetchone()
        assert apart == (0,)
        rollup = connection.execute(
            "SELECT sum(calls), sum(failed), sum(attempts), sum(cost_usd)::text, "
            "(SELECT sum(x) FROM execution_hourly_latency, unnest(latency) AS x) "
            "FROM execution_hourly"
        ).fetchone()
        assert rollup == (90, 18, 90, "0.09000000", 90)  # the histograms count every call

    command.downgrade(config, "0011_model_matrix")
    assert _one(conninfo, _COUNTS) == (90, 90)
    assert _one(conninfo, _KIND) == ("r",)
    command.upgrade(config, SCHEMA_HEAD)
    assert _one(conninfo, _COUNTS) == (90, 90)


async def test_a_record_of_a_month_not_made_yet_is_stored(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The migration makes months ahead; a record beyond them makes its own month rather
    than fail (and be set aside)."""
    far = datetime(2031, 7, 4, 12, 30, tzinfo=UTC)
    await store(sessionmaker, [record(far), record(far)])
    async with sessionmaker() as session:
        report = await usage_report(session, since=datetime(2031, 7, 1, tzinfo=UTC))
    assert report.totals.calls == 2
