"""teams: people and their invitations, per-agent guardrails, publishes awaiting approval

API keys need no change: their `scopes` already hold `admin` or `invoke`, and `admin` is the
highest role now; the new roles are new values in the same list. Columns that name who did
something widen: a person is named by email address (up to 254 characters) and name.

Revision ID: 0013_teams
Revises: 0012_log_scale
Create Date: 2026-12-02 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_teams"
down_revision: str | None = "0012_log_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLE = "role IN ('viewer', 'author', 'publisher', 'admin')"


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


# (table, column, before, after): who did it, named by a person's address and name
_WIDER = (
    ("audit_event", "actor", 100, 320),
    ("audit_event", "target", 200, 400),
    ("release", "actor", 200, 400),
    ("spec_version", "author", 200, 400),
)


def upgrade() -> None:
    for table, column, before, after in _WIDER:
        op.alter_column(
            table, column, type_=sa.String(length=after), existing_type=sa.String(length=before)
        )
    op.create_table(
        "person",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("oidc_issuer", sa.String(length=500), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint(_ROLE, name=op.f("ck_person_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("email", name=op.f("uq_person_email")),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_person_oidc"),
    )
    op.create_index(op.f("ix_person_created_at"), "person", ["created_at"])
    op.create_table(
        "invitation",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=400), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint(_ROLE, name=op.f("ck_invitation_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash")),
    )
    op.create_index(op.f("ix_invitation_created_at"), "invitation", ["created_at"])
    op.create_index(op.f("ix_invitation_email"), "invitation", ["email"])
    op.create_table(
        "agent_guardrails",
        sa.Column("spec_id", sa.Uuid(), nullable=False),
        sa.Column("publishers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("require_approval", sa.Boolean(), nullable=False),
        sa.Column("rules_only", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=400), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["spec_id"],
            ["spec.id"],
            name=op.f("fk_agent_guardrails_spec_id_spec"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("spec_id", name=op.f("pk_agent_guardrails")),
    )
    op.create_table(
        "release_request",
        sa.Column("spec_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=400), nullable=False),
        sa.Column("requester_label", sa.String(length=400), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("confirm_breaking", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=400), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("release_id", sa.Uuid(), nullable=True),
        *_id_and_created(),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected')", name=op.f("ck_release_request_status")
        ),
        sa.ForeignKeyConstraint(
            ["spec_id"],
            ["spec.id"],
            name=op.f("fk_release_request_spec_id_spec"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_request")),
    )
    op.create_index(op.f("ix_release_request_created_at"), "release_request", ["created_at"])
    op.create_index(op.f("ix_release_request_spec_id"), "release_request", ["spec_id"])


def downgrade() -> None:
    for table, column, before, after in _WIDER:
        op.alter_column(
            table, column, type_=sa.String(length=before), existing_type=sa.String(length=after)
        )
    op.drop_table("release_request")
    op.drop_table("agent_guardrails")
    op.drop_table("invitation")
    op.drop_table("person")
