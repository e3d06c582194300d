"""Test cases (per spec, kept across versions), test runs (one version's suite) and their
results (one row per case x repeat)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin


class TestCase(IdMixin, Base):
    """An input plus assertions on the output, run `repeat` times per test run."""

    __test__ = False  # not a pytest class
    __tablename__ = "test_case"
    __table_args__ = (
        UniqueConstraint("spec_id", "name", name="uq_test_case_spec_id_name"),
        CheckConstraint("origin IN ('file', 'manual', 'generated', 'promoted')", name="origin"),
        CheckConstraint("gate IN ('rate', 'wilson')", name="gate"),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("spec.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    input: Mapped[dict[str, Any]]
    expect: Mapped[list[Any]]
    repeat: Mapped[int] = mapped_column(default=1)
    min_pass_rate: Mapped[float] = mapped_column(default=1.0)
    # How min_pass_rate is judged: on the observed pass rate, or on its Wilson lower bound
    # (so a few lucky repeats of a flaky case cannot pass it).
    gate: Mapped[str] = mapped_column(String(16), default="rate", server_default="rate")
    # Where the case came from: a spec file's `tests:`, the API or web form, the case
    # generator, or a recorded execution promoted to a case.
    origin: Mapped[str] = mapped_column(String(16))
    # The texts of the spec rules the case exercises (texts, not numbers: reordering or
    # inserting rules must not move a case onto another rule).
    rules: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # The execution a promoted case was made from.
    execution_id: Mapped[uuid.UUID | None]
    # Written by the offline model: its expected values are placeholders, not knowledge.
    placeholder: Mapped[bool] = mapped_column(default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )


class TestRun(IdMixin, Base):
    """One version's suite executed: every case x its repeats."""

    __test__ = False
    __tablename__ = "test_run"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'passed', 'failed', 'error')", name="status"
        ),
    )

    spec_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spec.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    passed: Mapped[bool | None]
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    # Some attempt was answered by the offline model: the run is no evidence for publish.
    offline: Mapped[bool] = mapped_column(default=False, server_default="false")
    # The suite as it was when the run started (name, case_id, repeat, min_pass_rate), so
    # later edits of a case do not rewrite the verdict of a past run.
    cases: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(String(2000))
    # A model matrix's row: the suite run on `model` alone (no fallbacks). Such runs are
    # evidence about models, never the version's own test run (the publish gate).
    matrix_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model_matrix.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TestResult(IdMixin, Base):
    """One attempt of one case in a run."""

    __test__ = False
    __tablename__ = "test_result"

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("test_run.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("test_case.id", ondelete="SET NULL")
    )
    case_name: Mapped[str] = mapped_column(String(200))
    repeat_index: Mapped[int]
    execution_id: Mapped[uuid.UUID | None]
    output: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    assertions: Mapped[list[Any]]
    passed: Mapped[bool]
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    offline: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Re-asks after invalid output, and failed checks (attempts or the call), in this call.
    reasks: Mapped[int] = mapped_column(default=0, server_default="0")
    check_failures: Mapped[int] = mapped_column(default=0, server_default="0")
