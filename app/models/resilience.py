"""Shared state of the resilient call path: every server process reads and writes these."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Numeric, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class ResponseCacheEntry(Base):
    """A cached output, keyed by compiled version, canonical input and model parameters."""

    __tablename__ = "response_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(63))
    version: Mapped[int]
    output: Mapped[dict[str, Any]]
    model: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class RateWindow(Base):
    """Requests and tokens sent to one deployment in one window, summed over all processes."""

    __tablename__ = "rate_window"

    bucket: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(default=0)


class BreakerState(Base):
    """The circuit breaker of one model deployment."""

    __tablename__ = "breaker_state"
    __table_args__ = (CheckConstraint("state IN ('closed', 'open', 'half_open')", name="state"),)

    deployment: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="closed")
    failures: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    probe_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class Budget(IdMixin, Base):
    """A spending limit in USD: global or per agent, per day or per month."""

    __tablename__ = "budget"
    __table_args__ = (
        CheckConstraint("scope IN ('global', 'agent')", name="scope"),
        CheckConstraint("period IN ('day', 'month')", name="period"),
        CheckConstraint("on_exceed IN ('reject', 'downgrade')", name="on_exceed"),
        UniqueConstraint("scope", "agent", "period", name="uq_budget_scope_agent_period"),
    )

    scope: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(63))
    period: Mapped[str] = mapped_column(String(8))
    limit_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    on_exceed: Mapped[str] = mapped_column(String(16), default="reject")
    downgrade_model: Mapped[str | None] = mapped_column(String(200))


class Spend(Base):
    """USD spent per day by a scope ("global" or "agent:<name>"), kept by the execution writer."""

    __tablename__ = "spend"

    scope_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(16, 8), default=Decimal(0))
