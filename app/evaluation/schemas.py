"""API shapes of test cases and test runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from app.compiler.document import Assertion, Gate, check_gate
from app.core.schemas import RequestBody
from app.registry.schemas import VERSION_MAX, Schema

CaseOrigin = Literal["file", "manual", "generated", "promoted"]
GenerationKind = Literal["schema", "examples", "rules"]
ALL_KINDS: tuple[GenerationKind, ...] = ("schema", "examples", "rules")


class CaseWrite(RequestBody):
    """`POST`/`PUT /api/specs/{name}/cases`: a test case."""

    name: str = Field(min_length=1, max_length=200)
    input: dict[str, Any]
    expect: list[Assertion] = Field(default_factory=list, max_length=100)
    repeat: int = Field(default=1, ge=1, le=100)
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)
    rules: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Texts of the spec rules this case exercises (for the coverage view).",
    )
    gate: Gate = Field(
        default="rate",
        description="How min_pass_rate is judged over the repeats: `rate`, the observed pass "
        "rate; `wilson`, the lower bound of its 95% Wilson interval (lucky runs of a flaky "
        "case cannot pass).",
    )
    execution_id: uuid.UUID | None = Field(
        default=None,
        strict=False,  # JSON has no UUID type: the text form is the value
        description="The execution this case was promoted from (a confirmed promotion "
        "draft); the case's origin is then `promoted`.",
    )

    @model_validator(mode="after")
    def _gate(self) -> CaseWrite:
        check_gate(self.gate, self.min_pass_rate, self.repeat)
        return self


class CaseRead(Schema):
    id: uuid.UUID
    name: str
    input: dict[str, Any]
    expect: list[dict[str, Any]]
    repeat: int
    min_pass_rate: float
    gate: Gate
    origin: CaseOrigin
    # Written by the offline model: the expected values are placeholders.
    placeholder: bool
    rules: list[str]
    execution_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CaseList(Schema):
    items: list[CaseRead]


class Attempt(Schema):
    repeat_index: int
    passed: bool
    output: dict[str, Any] | None
    error: dict[str, Any] | None
    assertions: list[dict[str, Any]]
    latency_ms: float
    cost_usd: float
    execution_id: uuid.UUID | None
    offline: bool


class AssertionRate(Schema):
    assertion: dict[str, Any]
    pass_rate: float
    evaluated: bool = True


class CaseOutcome(Schema):
    name: str
    case_id: uuid.UUID | None
    min_pass_rate: float
    gate: Gate
    pass_rate: float
    pass_k: float = Field(description="pass^k: 1.0 when all k runs passed, else 0.0.")
    wilson_lower: float = Field(
        description="Lower bound of the pass rate's 95% Wilson score interval."
    )
    passed: bool
    attempts: int
    assertions: list[AssertionRate]
    runs: list[Attempt]


class Progress(Schema):
    done: int
    total: int


class RunRead(Schema):
    id: uuid.UUID
    spec: str
    version: int
    status: Literal["queued", "running", "passed", "failed", "error"]
    passed: bool | None
    progress: Progress
    # Answered (at least in part) by the offline model: placeholders, not evidence.
    offline: bool
    cost_usd: float
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cases: list[CaseOutcome]
    failing_cases: list[str]


class CaseComparison(Schema):
    name: str
    change: Literal["improved", "regressed", "unchanged", "new", "removed"]
    pass_rate: float | None
    baseline_pass_rate: float | None
    passed: bool | None
    baseline_passed: bool | None


class ComparisonRead(Schema):
    run_id: uuid.UUID
    version: int
    baseline_run_id: uuid.UUID | None
    baseline_version: int | None
    cases: list[CaseComparison]


class GenerateRequest(RequestBody):
    """`POST /api/specs/{name}/cases/generate`."""

    version: int | None = Field(
        default=None, ge=1, le=VERSION_MAX, description="Default: the latest version."
    )
    kinds: list[GenerationKind] = Field(default_factory=lambda: list(ALL_KINDS), min_length=1)


class PromoteRequest(RequestBody):
    """`POST /api/executions/{id}/promote`: everything optional."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    repeat: int = Field(default=1, ge=1, le=100)
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)
    rules: list[str] = Field(default_factory=list, max_length=100)


class PromotionDraft(Schema):
    """`POST /api/executions/{id}/promote`: a case to review, not yet saved."""

    status: Literal["draft"] = "draft"
    spec: str
    execution_id: uuid.UUID
    case: dict[str, Any] = Field(description="A `CaseWrite` body, assertions as written.")
    save: str = Field(description="Where to POST `case` once its expected values are checked.")
    review: str
    offline: bool = Field(description="The offline model answered: the values are placeholders.")


class CaseRef(Schema):
    id: uuid.UUID
    name: str
    origin: CaseOrigin


class RuleCoverage(Schema):
    number: int
    rule: str
    covered: bool = Field(description="Some case exercises it, or some check enforces it.")
    cases: list[CaseRef]
    checks: list[str] = Field(
        default_factory=list, description="Names of the spec's checks that enforce it."
    )


class Coverage(Schema):
    spec: str
    version: int
    rules: list[RuleCoverage]
    uncovered: list[int] = Field(description="Numbers (1-based) of the rules no case exercises.")
    cases_total: int
    cases_without_rule: int
