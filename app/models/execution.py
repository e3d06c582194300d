from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, IdMixin


def _partition_key() -> Mapped[datetime]:
    """`created_at` as the log's tables hold it: the month partition key, so part of the
    primary key (Postgres asks that of a partitioned table's unique keys)."""
    return mapped_column(
        DateTime(timezone=True),
        server_default=func.clock_timestamp(),
        primary_key=True,
        index=True,
    )


class Execution(IdMixin, Base):
    """One call of an agent, successful or not, with every model attempt it made.

    Partitioned by month of `created_at` (migration 0012): look one up by id and the time
    is not needed, but each month's index is probed.
    """

    __tablename__ = "execution"
    __table_args__ = (
        CheckConstraint("status IN ('succeeded', 'failed')", name="status"),
        CheckConstraint(
            "source IN ('api', 'mcp', 'job', 'playground', 'test', 'judge', 'case-writer',"
            " 'shadow', 'matrix')",
            name="source",
        ),
        Index("ix_execution_agent_created", "agent", "created_at"),
        # Partial: most calls belong to no rollout and no shadow, and the writer's inserts
        # should not pay for indexing their NULLs.
        Index(
            "ix_execution_rollout_id",
            "rollout_id",
            postgresql_where=text("rollout_id IS NOT NULL"),
        ),
        Index(
            "ix_execution_shadow_id",
            "shadow_id",
            postgresql_where=text("shadow_id IS NOT NULL"),
        ),
        {"postgresql_partition_by": "RANGE (created_at)"},
    )

    created_at: Mapped[datetime] = _partition_key()

    agent: Mapped[str] = mapped_column(String(63))
    version: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[dict[str, Any]]
    output: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    cache: Mapped[str] = mapped_column(String(8), default="miss")
    model: Mapped[str | None] = mapped_column(String(200))
    offline: Mapped[bool] = mapped_column(default=False)
    # Why `model` served the call when the spec did not name it: `auto` (a model matrix).
    model_choice: Mapped[str | None] = mapped_column(String(16))
    latency_ms: Mapped[float]
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))
    request_id: Mapped[str | None] = mapped_column(String(100))
    # Who called (app.executions.record.Source): production traffic is api, mcp and job.
    source: Mapped[str] = mapped_column(String(16), default="api", server_default="api")
    # The key that made the call (None: the bootstrap admin key), so an invoke key can read
    # back its own executions and nobody else's. No foreign key: revoked keys stay as rows,
    # and the execution writer must never fail on a key deleted by hand.
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # Which release answered: the label the caller chose (None: production), the rollout
    # whose arm it was, or the shadow it ran for and the live execution it shadowed.
    label: Mapped[str | None] = mapped_column(String(63))
    rollout_id: Mapped[uuid.UUID | None]
    shadow_id: Mapped[uuid.UUID | None]
    shadow_of: Mapped[uuid.UUID | None]

    attempts: Mapped[list[Attempt]] = relationship(
        back_populates="execution",
        lazy="raise",
        order_by="Attempt.number",
        primaryjoin="and_(Execution.id == foreign(Attempt.execution_id), "
        "Execution.created_at == foreign(Attempt.created_at))",
    )


class Attempt(IdMixin, Base):
    """One model call inside an execution: the first ask, a retry, a fallback or a re-ask.

    Its `created_at` is its execution's, so both rows live in the same month's partition.
    """

    __tablename__ = "attempt"
    # No foreign key: Postgres cannot drop (or cheaply detach) a month of `execution` that a
    # foreign key refers to, and the writer stores an execution with its attempts in one
    # statement anyway. Retention removes a month of both tables together, and deletes an
    # execution's attempts in the statement that deletes it.
    __table_args__ = ({"postgresql_partition_by": "RANGE (created_at)"},)

    created_at: Mapped[datetime] = _partition_key()
    execution_id: Mapped[uuid.UUID] = mapped_column(index=True)
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    raw_text: Mapped[str | None] = mapped_column(Text)
    issues: Mapped[list[Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float]
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 8), default=Decimal(0))

    execution: Mapped[Execution] = relationship(
        back_populates="attempts",
        lazy="raise",
        primaryjoin="and_(Execution.id == foreign(Attempt.execution_id), "
        "Execution.created_at == foreign(Attempt.created_at))",
    )
