"""evidence: who called (execution source), offline-answered runs and cases, case gates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = "'api', 'mcp', 'job', 'playground', 'test', 'judge', 'case-writer'"


def upgrade() -> None:
    # Rows written before sources were recorded came from the API or a job; the log could
    # not tell, and "api" is the one production source every older row may stand for.
    op.add_column(
        "execution",
        sa.Column("source", sa.String(length=16), server_default="api", nullable=False),
    )
    op.create_check_constraint(op.f("ck_execution_source"), "execution", f"source IN ({SOURCES})")
    op.add_column(
        "test_run", sa.Column("offline", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "test_result", sa.Column("offline", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "test_case",
        sa.Column("placeholder", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "test_case",
        sa.Column("gate", sa.String(length=16), server_default="rate", nullable=False),
    )
    op.create_check_constraint(op.f("ck_test_case_gate"), "test_case", "gate IN ('rate', 'wilson')")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_test_case_gate"), "test_case", type_="check")
    op.drop_column("test_case", "gate")
    op.drop_column("test_case", "placeholder")
    op.drop_column("test_result", "offline")
    op.drop_column("test_run", "offline")
    op.drop_constraint(op.f("ck_execution_source"), "execution", type_="check")
    op.drop_column("execution", "source")
