"""The execution log summed per hour: what usage, charts and the agents list read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


def _count() -> Mapped[int]:
    return mapped_column(BigInteger, server_default="0")


def _usd() -> Mapped[Decimal]:
    return mapped_column(Numeric(20, 8), server_default="0")


class _UsageFigures:
    """Calls and attempts summed under one agent, version, model and source.

    The call figures (calls … cost_usd) sit under the model that answered the call (`''`
    when none did); the attempt figures under each attempt's model, skipped ones left out.
    `version` 0 means none (a call refused before a version was chosen). `source` is free
    text: new callers need no migration here.
    """

    agent: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = _count()
    failed: Mapped[int] = _count()
    prompt_tokens: Mapped[int] = _count()
    completion_tokens: Mapped[int] = _count()
    cost_usd: Mapped[Decimal] = _usd()
    attempts: Mapped[int] = _count()
    attempt_prompt_tokens: Mapped[int] = _count()
    attempt_completion_tokens: Mapped[int] = _count()
    attempt_cost_usd: Mapped[Decimal] = _usd()


class ExecutionHourly(_UsageFigures, Base):
    """The log summed per UTC hour, kept by the execution writer in the statement that
    stores the records, so it always equals the log."""

    __tablename__ = "execution_hourly"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class ExecutionDaily(_UsageFigures, Base):
    """The log summed per UTC day (its first instant), kept like `execution_hourly`: usage
    over weeks reads a row a day rather than 24."""

    __tablename__ = "execution_daily"

    day: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class ExecutionHourlyLatency(Base):
    """Calls of one UTC hour, agent and source with a histogram of their latency (in the
    buckets of app.executions.rollup): what the charts and the agents list read. Apart
    from `execution_hourly` so that usage, which needs no histogram, reads narrow rows."""

    __tablename__ = "execution_hourly_latency"

    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    agent: Mapped[str] = mapped_column(String(63), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    calls: Mapped[int] = _count()
    failed: Mapped[int] = _count()
    cost_usd: Mapped[Decimal] = _usd()
    latency: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
