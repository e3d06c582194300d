"""reliability: records the writer sets aside (dead letters)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letter",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letter")),
    )
    op.create_index(op.f("ix_dead_letter_created_at"), "dead_letter", ["created_at"])
    op.create_index(op.f("ix_dead_letter_record_id"), "dead_letter", ["record_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letter_record_id"), table_name="dead_letter")
    op.drop_index(op.f("ix_dead_letter_created_at"), table_name="dead_letter")
    op.drop_table("dead_letter")
