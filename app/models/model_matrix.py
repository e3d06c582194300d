"""Model matrices: one version's suite run on several models, to choose a model by evidence."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class ModelMatrix(IdMixin, Base):
    """A version's suite run once per model; each model's run is a `TestRun` pointing here."""

    __tablename__ = "model_matrix"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'finished', 'error')", name="status"),
        Index("ix_model_matrix_spec_behaviour", "spec_id", "behaviour_hash"),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    # The version's document without its model section: a matrix measures a prompt and its
    # schemas, so any version that differs only in its model (an `auto` one) can use it.
    behaviour_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    models: Mapped[list[Any]]
    repeat: Mapped[int | None]
    # What the models file said of these models when the matrix started: another value
    # now means the matrix measured models that are no longer configured that way.
    fingerprint: Mapped[str] = mapped_column(String(64))
    estimate_usd: Mapped[float] = mapped_column(default=0.0)
    # Passing models, cheapest valid call first (the first is the recommendation).
    ranking: Mapped[list[Any]] = mapped_column(default=list)
    recommended: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(2000))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
