"""log at scale: hourly and daily rollups; execution and attempt partitioned by month

Revision ID: 0012_log_scale
Revises: 0011_model_matrix
Create Date: 2026-12-02 08:30:00

`execution` and `attempt` become tables partitioned by range of `created_at`, one partition
a month, with every row copied across. A partitioned table's primary key must hold the
partition key, so both keys become (id, created_at); an attempt takes its execution's
`created_at` (it used to be the time the row was written) so it lives in the same month as
its execution. The attempts' foreign key goes: Postgres will not drop a month of
`execution` while a foreign key refers to it, and detaching one first checks every attempt.
The writer stores an execution and its attempts in one statement, and retention removes
them together. Nothing else had a foreign key into `execution`: test cases, test results
and job items keep the id alone (retention keeps the executions they name).

`specloom_log_month(t)` creates the month of `t` for both tables; the writer calls it for a
month it has not seen, and the retention job creates months ahead.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_log_scale"
down_revision: str | None = "0011_model_matrix"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rollup's latency histogram: bucket 0 holds [0, 1) ms, bucket i holds
# [2^((i-1)/4), 2^(i/4)) ms, the last one everything from 2^19.75 ms (about 15 minutes).
# A frozen copy of app.executions.rollup.BUCKET_SQL, as migrations are snapshots.
_BUCKET = "(CASE WHEN {ms} < 1 THEN 0 ELSE LEAST(80, floor(4 * ln({ms}) / ln(2)) + 1) END)::int"

_MONTH_FUNCTION = """
CREATE FUNCTION specloom_log_month(at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    name text := to_char(first, '"y"YYYY"m"MM');
    tbl text;
BEGIN
    IF to_regclass('attempt_' || name) IS NOT NULL THEN
        RETURN;  -- the usual case: made ahead, and nothing locked
    END IF;
    -- Writers of two processes may ask at once: the second waits, then finds the month.
    PERFORM pg_advisory_xact_lock(hashtext('specloom_log_month'));
    FOREACH tbl IN ARRAY ARRAY['execution', 'attempt'] LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            tbl || '_' || name, tbl,
            first AT TIME ZONE 'UTC', (first + interval '1 month') AT TIME ZONE 'UTC');
    END LOOP;
END $$
"""


def upgrade() -> None:
    op.create_table("execution_hourly", *_rollup_columns())
    op.execute(
        "ALTER TABLE execution_hourly ADD CONSTRAINT pk_execution_hourly "
        "PRIMARY KEY (hour, agent, version, model, source)"
    )
    op.create_table("execution_daily", *_rollup_columns("day"))
    op.execute(
        "ALTER TABLE execution_daily ADD CONSTRAINT pk_execution_daily "
        "PRIMARY KEY (day, agent, version, model, source)"
    )
    op.create_table("execution_hourly_latency", *_latency_columns())
    op.execute(
        "ALTER TABLE execution_hourly_latency ADD CONSTRAINT pk_execution_hourly_latency "
        "PRIMARY KEY (hour, agent, source)"
    )
    op.execute(_MONTH_FUNCTION)
    _partition()
    _backfill_rollup()


def downgrade() -> None:
    _unpartition()
    op.execute("DROP FUNCTION specloom_log_month(timestamptz)")
    op.drop_table("execution_hourly_latency")
    op.drop_table("execution_daily")
    op.drop_table("execution_hourly")


def _key(*names: str) -> list[sa.Column[Any]]:
    types: dict[str, Any] = {
        "hour": sa.DateTime(timezone=True),
        "day": sa.DateTime(timezone=True),
        "agent": sa.String(length=63),
        "version": sa.Integer(),
        "model": sa.String(length=200),
        "source": sa.String(length=32),
    }
    return [sa.Column(name, types[name], nullable=False) for name in names]


def _figures(*names: str) -> list[sa.Column[Any]]:
    return [
        sa.Column(
            name,
            sa.Numeric(20, 8) if name.endswith("usd") else sa.BigInteger(),
            nullable=False,
            server_default="0",
        )
        for name in names
    ]


def _rollup_columns(time: str = "hour") -> list[sa.Column[Any]]:
    return _key(time, "agent", "version", "model", "source") + _figures(
        "calls",
        "failed",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "attempts",
        "attempt_prompt_tokens",
        "attempt_completion_tokens",
        "attempt_cost_usd",
    )


def _latency_columns() -> list[sa.Column[Any]]:
    return [
        *_key("hour", "agent", "source"),
        *_figures("calls", "failed", "cost_usd"),
        sa.Column("latency", postgresql.ARRAY(sa.BigInteger()), nullable=False),
    ]


def _partition() -> None:
    op.execute("ALTER TABLE attempt DROP CONSTRAINT fk_attempt_execution_id_execution")
    for table in ("execution", "attempt"):
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_plain")
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_plain INCLUDING DEFAULTS INCLUDING "
            "CONSTRAINTS) PARTITION BY RANGE (created_at)"
        )
    # Every month holding a row, and this month and the next two.
    op.execute(
        "SELECT specloom_log_month(m) FROM generate_series("
        "date_trunc('month', LEAST(now(), (SELECT min(created_at) FROM execution_plain)) "
        "AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', "
        "GREATEST(now(), (SELECT max(created_at) FROM execution_plain)) + interval '2 months', "
        "interval '1 month') AS m"
    )
    op.execute("INSERT INTO execution SELECT * FROM execution_plain")
    columns = _columns("attempt_plain", exclude="created_at")
    op.execute(
        f"INSERT INTO attempt ({columns}, created_at) "
        f"SELECT {', '.join('a.' + c for c in columns.split(', '))}, e.created_at "
        "FROM attempt_plain a JOIN execution_plain e ON e.id = a.execution_id"
    )
    op.execute("DROP TABLE attempt_plain")
    op.execute("DROP TABLE execution_plain")
    _keys(partitioned=True)


def _unpartition() -> None:
    # Attempts whose execution retention removed alone cannot meet the foreign key again.
    op.execute(
        "DELETE FROM attempt a WHERE NOT EXISTS "
        "(SELECT FROM execution e WHERE e.id = a.execution_id AND e.created_at = a.created_at)"
    )
    for table in ("execution", "attempt"):
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_parted")
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_parted INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_parted")
    op.execute("DROP TABLE attempt_parted")
    op.execute("DROP TABLE execution_parted")
    _keys(partitioned=False)


def _keys(*, partitioned: bool) -> None:
    """Primary keys, indexes and (unpartitioned) the attempts' foreign key, built after the
    copy: faster."""
    key = "id, created_at" if partitioned else "id"
    op.execute(f"ALTER TABLE execution ADD CONSTRAINT pk_execution PRIMARY KEY ({key})")
    op.execute(f"ALTER TABLE attempt ADD CONSTRAINT pk_attempt PRIMARY KEY ({key})")
    op.create_index("ix_execution_agent_created", "execution", ["agent", "created_at"])
    op.create_index("ix_execution_created_at", "execution", ["created_at"])
    op.create_index("ix_execution_api_key_id", "execution", ["api_key_id"])
    op.create_index("ix_attempt_created_at", "attempt", ["created_at"])
    op.create_index("ix_attempt_execution_id", "attempt", ["execution_id"])
    # Partial: most calls belong to no rollout and no shadow.
    for column in ("rollout_id", "shadow_id"):
        op.create_index(
            f"ix_execution_{column}",
            "execution",
            [column],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
        )
    if not partitioned:
        op.execute(
            "ALTER TABLE attempt ADD CONSTRAINT fk_attempt_execution_id_execution FOREIGN KEY "
            "(execution_id) REFERENCES execution (id) ON DELETE CASCADE"
        )


def _columns(table: str, *, exclude: str) -> str:
    rows = op.get_bind().exec_driver_sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %(t)s "
        "AND column_name <> %(x)s ORDER BY ordinal_position",
        {"t": table, "x": exclude},
    )
    return ", ".join(row[0] for row in rows)


def _backfill_rollup() -> None:
    """The rollups of every row already logged: per-call figures under the call's model,
    per-attempt figures under each attempt's model (skipped attempts are not calls), and
    per hour, agent and source the calls' latency histogram."""
    op.execute(
        """
        INSERT INTO execution_hourly (hour, agent, version, model, source, calls, failed,
            prompt_tokens, completion_tokens, cost_usd)
        SELECT date_trunc('hour', created_at, 'UTC'), agent, coalesce(version, 0),
            coalesce(model, ''), source, count(*), count(*) FILTER (WHERE status = 'failed'),
            sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
        FROM execution GROUP BY 1, 2, 3, 4, 5
        """
    )
    op.execute(
        """
        INSERT INTO execution_hourly AS h (hour, agent, version, model, source,
            attempts, attempt_prompt_tokens, attempt_completion_tokens, attempt_cost_usd)
        SELECT date_trunc('hour', e.created_at, 'UTC'), e.agent, coalesce(e.version, 0),
            a.model, e.source, count(*), sum(a.prompt_tokens), sum(a.completion_tokens),
            sum(a.cost_usd)
        FROM attempt a JOIN execution e
            ON e.id = a.execution_id AND e.created_at = a.created_at
        WHERE a.kind <> 'skip'
        GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (hour, agent, version, model, source) DO UPDATE SET
            attempts = excluded.attempts,
            attempt_prompt_tokens = excluded.attempt_prompt_tokens,
            attempt_completion_tokens = excluded.attempt_completion_tokens,
            attempt_cost_usd = excluded.attempt_cost_usd
        """
    )
    op.execute(
        """
        INSERT INTO execution_daily (day, agent, version, model, source, calls, failed,
            prompt_tokens, completion_tokens, cost_usd, attempts, attempt_prompt_tokens,
            attempt_completion_tokens, attempt_cost_usd)
        SELECT date_trunc('day', hour, 'UTC'), agent, version, model, source, sum(calls),
            sum(failed), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd),
            sum(attempts), sum(attempt_prompt_tokens), sum(attempt_completion_tokens),
            sum(attempt_cost_usd)
        FROM execution_hourly GROUP BY 1, 2, 3, 4, 5
        """
    )
    bucket = _BUCKET.format(ms="latency_ms")
    op.execute(
        f"""
        WITH per_bucket AS (
            SELECT date_trunc('hour', created_at, 'UTC') AS hour, agent, source,
                {bucket} AS b, count(*) AS n, count(*) FILTER (WHERE status = 'failed') AS f,
                sum(cost_usd) AS cost
            FROM execution GROUP BY 1, 2, 3, 4
        ), per_key AS (
            SELECT hour, agent, source, sum(n) AS n, sum(f) AS f, sum(cost) AS cost,
                jsonb_object_agg(b, n) AS hist
            FROM per_bucket GROUP BY 1, 2, 3
        )
        INSERT INTO execution_hourly_latency (hour, agent, source, calls, failed, cost_usd,
            latency)
        SELECT hour, agent, source, n, f, cost,
            ARRAY(SELECT coalesce((hist ->> i::text)::bigint, 0)
                  FROM generate_series(0, 80) AS i ORDER BY i)
        FROM per_key
        """
    )
