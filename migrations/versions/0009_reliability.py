"""reliability: records the writer sets aside (dead letters); signed-out web sessions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
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
    op.create_table(
        "ended_web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "ended_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ended_web_session")),
    )
    op.create_index(op.f("ix_ended_web_session_ended_at"), "ended_web_session", ["ended_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ended_web_session_ended_at"), table_name="ended_web_session")
    op.drop_table("ended_web_session")
    op.drop_index(op.f("ix_dead_letter_record_id"), table_name="dead_letter")
    op.drop_index(op.f("ix_dead_letter_created_at"), table_name="dead_letter")
    op.drop_table("dead_letter")
