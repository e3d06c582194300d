"""contract diff on releases; test case origin, rules and promoting execution

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 07:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# old `source` value -> new `origin` value
_ORIGINS = {"file": "file", "api": "manual", "generated": "generated", "execution": "promoted"}


def _remap(column: str, mapping: dict[str, str]) -> None:
    cases = " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in mapping.items())
    op.execute(f"UPDATE test_case SET {column} = CASE {column} {cases} END")


def upgrade() -> None:
    op.add_column(
        "release", sa.Column("contract", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "release",
        sa.Column(
            "breaking_confirmed", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.drop_constraint(op.f("ck_test_case_source"), "test_case", type_="check")
    op.alter_column("test_case", "source", new_column_name="origin")
    _remap("origin", _ORIGINS)
    op.create_check_constraint(
        op.f("ck_test_case_origin"),
        "test_case",
        "origin IN ('file', 'manual', 'generated', 'promoted')",
    )
    op.add_column(
        "test_case",
        sa.Column(
            "rules",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("test_case", sa.Column("execution_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("test_case", "execution_id")
    op.drop_column("test_case", "rules")
    op.drop_constraint(op.f("ck_test_case_origin"), "test_case", type_="check")
    _remap("origin", {new: old for old, new in _ORIGINS.items()})
    op.alter_column("test_case", "origin", new_column_name="source")
    op.create_check_constraint(
        op.f("ck_test_case_source"),
        "test_case",
        "source IN ('file', 'api', 'generated', 'execution')",
    )
    op.drop_column("release", "breaking_confirmed")
    op.drop_column("release", "contract")
