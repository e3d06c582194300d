"""Web sessions that were signed out: the cookie is signed, so ending one needs a record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class EndedWebSession(Base):
    """A signed-out web session, by the SHA-256 of its id: its cookie no longer signs in,
    wherever it was copied to. Rows older than the session lifetime can go."""

    __tablename__ = "ended_web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ended_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), index=True
    )
