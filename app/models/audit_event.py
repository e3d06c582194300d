from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class AuditEvent(IdMixin, Base):
    """One management action: who (key id, "bootstrap-admin" or "cli"), what, on what, when."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_at_id", "at", "id"),
        Index("ix_audit_event_target", "target"),
    )

    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    actor: Mapped[str] = mapped_column(String(320))  # a person's email address, a key id…
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(400))
    details: Mapped[dict[str, Any]]
