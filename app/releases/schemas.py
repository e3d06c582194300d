"""Request and response bodies of labels, rollouts and shadows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.core.schemas import RequestBody
from app.registry.schemas import VERSION_MAX, Schema

REASON = Field(default=None, max_length=2000)


class LabelSet(RequestBody):
    version: int = Field(ge=1, le=VERSION_MAX)
    reason: str | None = REASON


class LabelRead(Schema):
    label: str
    version: int
    actor: str | None = Field(description="Who pointed it last (null for production).")
    updated_at: datetime | None


class LabelList(BaseModel):
    items: list[LabelRead]


class Guard(RequestBody):
    max_failure_rate: float = Field(
        ge=0, le=1, description="Roll back when the candidate's failure rate exceeds this."
    )
    min_calls: int = Field(
        ge=1, le=1_000_000, description="Calls the candidate makes before the guard judges."
    )
    max_p95_latency_ms: float | None = Field(default=None, gt=0)
    max_cost_per_call_usd: float | None = Field(default=None, ge=0)


class RolloutCreate(RequestBody):
    version: int = Field(ge=1, le=VERSION_MAX)
    percent: float = Field(gt=0, le=100, description="Share of subjects given the candidate.")
    guard: Guard
    force: bool = Field(default=False, description="Skip the test gate (needs a reason).")
    reason: str | None = REASON
    confirm_breaking: bool = Field(
        default=False, description="Accept a contract change that breaks callers."
    )


class ActionBody(RequestBody):
    reason: str | None = REASON


class ArmRead(BaseModel):
    version: int
    calls: int
    failures: int
    failure_rate: float
    check_failures: int
    p95_latency_ms: float | None
    cost_usd: float
    cost_per_call_usd: float


class RolloutRead(Schema):
    id: uuid.UUID
    status: Literal["running", "promoted", "aborted", "rolled_back"]
    version: int
    live_version: int = Field(validation_alias="base_version")
    percent: float
    guard: dict[str, Any]
    forced: bool
    actor: str
    reason: str | None
    created_at: datetime
    ended_at: datetime | None
    ended_by: str | None
    outcome: dict[str, Any] | None = Field(
        description="When it ended: the figures per arm, and the bound the guard saw crossed."
    )
    arms: dict[Literal["live", "candidate"], ArmRead] | None = None


class RolloutList(BaseModel):
    items: list[RolloutRead]


class ShadowCreate(RequestBody):
    version: int = Field(ge=1, le=VERSION_MAX)
    sample: float = Field(gt=0, le=1, description="Share of calls run on the candidate too.")


class DifferenceRead(BaseModel):
    execution_id: uuid.UUID
    live_execution_id: uuid.UUID
    input: dict[str, Any]
    live: dict[str, Any]
    candidate: dict[str, Any]
    fields: list[str] = Field(description="JSON Pointers of the fields that disagreed.")


class ShadowRead(Schema):
    id: uuid.UUID
    status: Literal["running", "stopped"]
    version: int
    sample: float
    actor: str
    created_at: datetime
    stopped_at: datetime | None
    calls: int = 0
    compared: int = Field(default=0, description="Calls both versions answered.")
    agreement: float | None = Field(
        default=None, description="Share of compared calls that agreed on every field."
    )
    fields: dict[str, float] = Field(
        default_factory=dict, description="Per output field (JSON Pointer): share agreeing."
    )
    candidate_failures: int = 0
    cost_usd: float = 0.0
    check_failures: dict[str, int] = Field(default_factory=dict)
    differences: list[DifferenceRead] = Field(default_factory=list)


class ShadowList(BaseModel):
    items: list[ShadowRead]
