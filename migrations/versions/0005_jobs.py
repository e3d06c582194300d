"""jobs, their items and webhook deliveries; procrastinate's queue schema

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 07:50:00

The task queue's tables and functions are procrastinate's own schema, read from the
installed package (pinned in pyproject.toml), so `alembic upgrade head` builds everything.
A later procrastinate upgrade ships SQL migrations in `procrastinate/sql/migrations/`: apply
them in a new revision of ours.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id_and_created() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("agent", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', "
            "'partially_failed')",
            name=op.f("ck_job_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("owner", "agent", "idempotency_key", name="uq_job_idempotency"),
    )
    op.create_index("ix_job_agent_status", "job", ["agent", "status"], unique=False)
    op.create_index(op.f("ix_job_api_key_id"), "job", ["api_key_id"], unique=False)
    op.create_index(op.f("ix_job_created_at"), "job", ["created_at"], unique=False)
    op.create_table(
        "job_item",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("input", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("output", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_job_item_status"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_item_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_item")),
        sa.UniqueConstraint("job_id", "position", name="uq_job_item_position"),
    )
    op.create_index("ix_job_item_job_status", "job_item", ["job_id", "status"], unique=False)
    op.create_index(op.f("ix_job_item_created_at"), "job_item", ["created_at"], unique=False)
    op.create_table(
        "webhook_delivery",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        *_id_and_created(),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["job.id"],
            name=op.f("fk_webhook_delivery_job_id_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    op.create_index(
        op.f("ix_webhook_delivery_created_at"), "webhook_delivery", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_webhook_delivery_job_id"), "webhook_delivery", ["job_id"], unique=False
    )
    # procrastinate's schema is many statements with dollar-quoted bodies and literal `%`:
    # run it as one simple query on the migration's own psycopg connection (one transaction).
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(SchemaManager.get_schema())


def downgrade() -> None:
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(_DROP_PROCRASTINATE)
    op.drop_index(op.f("ix_webhook_delivery_job_id"), table_name="webhook_delivery")
    op.drop_index(op.f("ix_webhook_delivery_created_at"), table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_job_item_created_at"), table_name="job_item")
    op.drop_index("ix_job_item_job_status", table_name="job_item")
    op.drop_table("job_item")
    op.drop_index(op.f("ix_job_created_at"), table_name="job")
    op.drop_index(op.f("ix_job_api_key_id"), table_name="job")
    op.drop_index("ix_job_agent_status", table_name="job")
    op.drop_table("job")


# Everything procrastinate's schema creates is named procrastinate_*.
_DROP_PROCRASTINATE = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.signature);
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%'
               AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
    END LOOP;
END;
$$;
"""
