from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "partially_failed")
ITEM_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class Job(IdMixin, Base):
    """An asynchronous run of one agent over one or many inputs (the items)."""

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in JOB_STATUSES) + ")", name="status"
        ),
        # One job per idempotency key, per key and agent (NULL keys never collide).
        UniqueConstraint("owner", "agent", "idempotency_key", name="uq_job_idempotency"),
        Index("ix_job_agent_status", "agent", "status"),
    )

    agent: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]  # resolved at submission: every item runs the same version
    owner: Mapped[str] = mapped_column(String(64))  # the key id, or "bootstrap-admin"
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # "queued" until it finishes; the final status is written by whoever ends the last item.
    status: Mapped[str] = mapped_column(String(24), default="queued")
    total: Mapped[int]
    done: Mapped[int] = mapped_column(default=0)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobItem(IdMixin, Base):
    """One input of a job, and (once run) its one result and execution."""

    __tablename__ = "job_item"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ITEM_STATUSES) + ")", name="status"
        ),
        UniqueConstraint("job_id", "position", name="uq_job_item_position"),
        Index("ix_job_item_job_status", "job_id", "status"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    position: Mapped[int]
    input: Mapped[Any] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # Claims so far; a result is accepted only from the latest claim (exactly once).
    attempt: Mapped[int] = mapped_column(default=0)
    output: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    execution_id: Mapped[uuid.UUID | None]
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(IdMixin, Base):
    """One attempt to POST a finished job's summary to its webhook."""

    __tablename__ = "webhook_delivery"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    succeeded: Mapped[bool]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float]
