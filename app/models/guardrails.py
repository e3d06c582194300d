from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class AgentGuardrails(Base):
    """What an admin decided for one agent: who may publish it, whether a publish waits for
    a second publisher's approval, and whether authors may change only rules and examples."""

    __tablename__ = "agent_guardrails"

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), primary_key=True
    )
    # Email addresses (people) or key names allowed to publish; null: every publisher.
    publishers: Mapped[list[Any] | None]
    require_approval: Mapped[bool] = mapped_column(default=False)
    rules_only: Mapped[bool] = mapped_column(default=False)
    updated_by: Mapped[str] = mapped_column(String(400))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReleaseRequest(IdMixin, Base):
    """A publish waiting for a second publisher: approved (then a release is made) or
    rejected, never by the one who asked."""

    __tablename__ = "release_request"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str] = mapped_column(String(400))  # the audit actor (compared)
    requester_label: Mapped[str] = mapped_column(String(400))
    reason: Mapped[str | None] = mapped_column(String(2000))
    force: Mapped[bool] = mapped_column(default=False)
    confirm_breaking: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[str | None] = mapped_column(String(400))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(2000))
    release_id: Mapped[uuid.UUID | None]
