from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class Label(IdMixin, Base):
    """A named pointer at a version of a spec (`staging`, `eu-customers`); `production` is
    not a row: it is the spec's live pointer."""

    __tablename__ = "label"
    __table_args__ = (Index("uq_label_spec_name", "spec_id", "name", unique=True),)

    spec_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("spec.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    actor: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )


class Rollout(IdMixin, Base):
    """A canary: `percent` of a spec's production subjects get `version` instead of the
    live one, until promoted, aborted, or rolled back by its guard."""

    __tablename__ = "rollout"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'promoted', 'aborted', 'rolled_back')", name="status"
        ),
        # One running rollout per spec: the database, not a check in Python, keeps it so.
        Index(
            "uq_rollout_running",
            "spec_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    base_version: Mapped[int]
    percent: Mapped[float]
    guard: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="running")
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(2000))
    forced: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(200))
    # The figures per arm when it ended (and, for the guard, which bound they crossed).
    outcome: Mapped[dict[str, Any] | None]


class Shadow(IdMixin, Base):
    """A candidate version run beside live on a sampled share of calls, after each answer."""

    __tablename__ = "shadow"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'stopped')", name="status"),
        Index(
            "uq_shadow_running",
            "spec_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    sample: Mapped[float]
    status: Mapped[str] = mapped_column(String(16), default="running")
    actor: Mapped[str] = mapped_column(String(200))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
