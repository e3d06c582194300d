from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class ApiKey(IdMixin, Base):
    """A bearer key: only the SHA-256 of its secret is kept, and a visible prefix to tell it by."""

    __tablename__ = "api_key"

    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    # Unique and indexed: a request's key is found by the hash of what it presents.
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]]
    agents: Mapped[list[Any] | None]
    labels: Mapped[list[Any] | None]  # None: any label (and production)
    rpm: Mapped[int | None]
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
