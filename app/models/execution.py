from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, IdMixin


class Execution(IdMixin, Base):
    """One call of an agent, successful or not, with every model attempt it made."""

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
    )

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
        back_populates="execution", lazy="raise", order_by="Attempt.number"
    )


class Attempt(IdMixin, Base):
    """One model call inside an execution: the first ask, a retry, a fallback or a re-ask."""

    __tablename__ = "attempt"

    execution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("execution.id", ondelete="CASCADE"), index=True
    )
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

    execution: Mapped[Execution] = relationship(back_populates="attempts", lazy="raise")
