"""releases: labels, canary rollouts, shadow runs; which release answered each execution

Revision ID: 0010_releases
Revises: 0009
Create Date: 2026-12-02 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_releases"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_SOURCES = "'api', 'mcp', 'job', 'playground', 'test', 'judge', 'case-writer'"
_ACTIONS = (
    "'publish', 'rollback', 'label', 'unlabel', 'rollout',"
    " 'rollout_aborted', 'rollout_rolled_back', 'shadow', 'shadow_stopped'"
)


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
        "label",
        sa.Column("spec_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        *_id_and_created(),
        sa.ForeignKeyConstraint(
            ["spec_id"], ["spec.id"], name=op.f("fk_label_spec_id_spec"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label")),
    )
    op.create_index(op.f("ix_label_created_at"), "label", ["created_at"])
    op.create_index("uq_label_spec_name", "label", ["spec_id", "name"], unique=True)
    op.create_table(
        "rollout",
        sa.Column("spec_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("guard", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=200), nullable=True),
        sa.Column("outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint(
            "status IN ('running', 'promoted', 'aborted', 'rolled_back')",
            name=op.f("ck_rollout_status"),
        ),
        sa.ForeignKeyConstraint(
            ["spec_id"], ["spec.id"], name=op.f("fk_rollout_spec_id_spec"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout")),
    )
    op.create_index(op.f("ix_rollout_created_at"), "rollout", ["created_at"])
    op.create_index(op.f("ix_rollout_spec_id"), "rollout", ["spec_id"])
    op.create_index(
        "uq_rollout_running",
        "rollout",
        ["spec_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )
    op.create_table(
        "shadow",
        sa.Column("spec_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sample", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint("status IN ('running', 'stopped')", name=op.f("ck_shadow_status")),
        sa.ForeignKeyConstraint(
            ["spec_id"], ["spec.id"], name=op.f("fk_shadow_spec_id_spec"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow")),
    )
    op.create_index(op.f("ix_shadow_created_at"), "shadow", ["created_at"])
    op.create_index(op.f("ix_shadow_spec_id"), "shadow", ["spec_id"])
    op.create_index(
        "uq_shadow_running",
        "shadow",
        ["spec_id"],
        unique=True,
        postgresql_where=sa.text("status = 'running'"),
    )

    op.add_column("execution", sa.Column("label", sa.String(length=63), nullable=True))
    op.add_column("execution", sa.Column("rollout_id", sa.Uuid(), nullable=True))
    op.add_column("execution", sa.Column("shadow_id", sa.Uuid(), nullable=True))
    op.add_column("execution", sa.Column("shadow_of", sa.Uuid(), nullable=True))
    # Partial: most calls belong to no rollout and no shadow.
    op.create_index(
        "ix_execution_rollout_id",
        "execution",
        ["rollout_id"],
        postgresql_where=sa.text("rollout_id IS NOT NULL"),
    )
    op.create_index(
        "ix_execution_shadow_id",
        "execution",
        ["shadow_id"],
        postgresql_where=sa.text("shadow_id IS NOT NULL"),
    )
    op.drop_constraint(op.f("ck_execution_source"), "execution", type_="check")
    op.create_check_constraint(
        op.f("ck_execution_source"), "execution", f"source IN ({_OLD_SOURCES}, 'shadow')"
    )

    op.add_column("api_key", sa.Column("labels", postgresql.JSONB(), nullable=True))

    op.drop_constraint(op.f("ck_release_action"), "release", type_="check")
    op.alter_column("release", "action", type_=sa.String(length=32))
    op.create_check_constraint(op.f("ck_release_action"), "release", f"action IN ({_ACTIONS})")
    op.add_column(
        "release",
        sa.Column("label", sa.String(length=63), server_default="production", nullable=False),
    )
    op.add_column(
        "release", sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.alter_column("release", "to_version", nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM release WHERE action NOT IN ('publish', 'rollback')")
    op.alter_column("release", "to_version", nullable=False)
    op.drop_column("release", "details")
    op.drop_column("release", "label")
    op.drop_constraint(op.f("ck_release_action"), "release", type_="check")
    op.alter_column("release", "action", type_=sa.String(length=16))
    op.create_check_constraint(
        op.f("ck_release_action"), "release", "action IN ('publish', 'rollback')"
    )
    op.drop_column("api_key", "labels")
    op.execute("DELETE FROM execution WHERE source = 'shadow'")
    op.drop_constraint(op.f("ck_execution_source"), "execution", type_="check")
    op.create_check_constraint(
        op.f("ck_execution_source"), "execution", f"source IN ({_OLD_SOURCES})"
    )
    op.drop_index("ix_execution_shadow_id", table_name="execution")
    op.drop_index("ix_execution_rollout_id", table_name="execution")
    op.drop_column("execution", "shadow_of")
    op.drop_column("execution", "shadow_id")
    op.drop_column("execution", "rollout_id")
    op.drop_column("execution", "label")
    op.drop_table("shadow")
    op.drop_table("rollout")
    op.drop_table("label")
