"""model matrix: a version's suite run per model, the runs and results it owns, `matrix`
executions and why a model served a call (`auto`)

Revision ID: 0011_model_matrix
Revises: 0010_releases
Create Date: 2026-12-02 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_model_matrix"
down_revision: str | None = "0010_releases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SOURCES = "'api', 'mcp', 'job', 'playground', 'test', 'judge', 'case-writer', 'shadow'"
NEW_SOURCES = OLD_SOURCES + ", 'matrix'"


def upgrade() -> None:
    op.create_table(
        "model_matrix",
        sa.Column("spec_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("behaviour_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("models", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("estimate_usd", sa.Float(), nullable=False),
        sa.Column("ranking", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recommended", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'finished', 'error')",
            name=op.f("ck_model_matrix_status"),
        ),
        sa.ForeignKeyConstraint(
            ["spec_id"],
            ["spec.id"],
            name=op.f("fk_model_matrix_spec_id_spec"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_matrix")),
    )
    op.create_index(op.f("ix_model_matrix_created_at"), "model_matrix", ["created_at"])
    op.create_index(op.f("ix_model_matrix_spec_id"), "model_matrix", ["spec_id"])
    op.create_index("ix_model_matrix_spec_behaviour", "model_matrix", ["spec_id", "behaviour_hash"])
    op.add_column("test_run", sa.Column("matrix_id", sa.Uuid(), nullable=True))
    op.add_column("test_run", sa.Column("model", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_test_run_matrix_id"), "test_run", ["matrix_id"])
    op.create_foreign_key(
        op.f("fk_test_run_matrix_id_model_matrix"),
        "test_run",
        "model_matrix",
        ["matrix_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.add_column(
        "test_result", sa.Column("reasks", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "test_result",
        sa.Column("check_failures", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("execution", sa.Column("model_choice", sa.String(length=16), nullable=True))
    op.drop_constraint(op.f("ck_execution_source"), "execution", type_="check")
    op.create_check_constraint(
        op.f("ck_execution_source"), "execution", f"source IN ({NEW_SOURCES})"
    )


def downgrade() -> None:
    op.execute("DELETE FROM execution WHERE source = 'matrix'")
    op.drop_constraint(op.f("ck_execution_source"), "execution", type_="check")
    op.create_check_constraint(
        op.f("ck_execution_source"), "execution", f"source IN ({OLD_SOURCES})"
    )
    op.drop_column("execution", "model_choice")
    op.drop_column("test_result", "check_failures")
    op.drop_column("test_result", "reasks")
    op.drop_constraint(op.f("fk_test_run_matrix_id_model_matrix"), "test_run", type_="foreignkey")
    op.drop_index(op.f("ix_test_run_matrix_id"), table_name="test_run")
    op.drop_column("test_run", "model")
    op.drop_column("test_run", "matrix_id")
    op.drop_index("ix_model_matrix_spec_behaviour", table_name="model_matrix")
    op.drop_index(op.f("ix_model_matrix_spec_id"), table_name="model_matrix")
    op.drop_index(op.f("ix_model_matrix_created_at"), table_name="model_matrix")
    op.drop_table("model_matrix")
