"""API shapes of executions."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from app.executions.record import ModelChoice, Source


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AttemptRead(_Read):
    number: int
    kind: str
    model: str
    outcome: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    raw_text: str | None
    issues: list[dict[str, Any]] | None
    error: str | None

    @field_serializer("cost_usd")
    def _cost(self, value: Decimal) -> float:
        return float(value)


class ExecutionSummary(_Read):
    id: uuid.UUID
    agent: str
    version: int | None
    status: Literal["succeeded", "failed"]
    cache: Literal["hit", "miss"]
    model: str | None
    # `auto`: the model was chosen by the version's model matrix.
    model_choice: ModelChoice | None = None
    offline: bool
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    request_id: str | None
    source: Source
    created_at: datetime
    label: str | None = Field(default=None, description="The label the caller chose.")
    rollout_id: uuid.UUID | None = Field(
        default=None, description="The rollout whose arm (live or candidate) answered."
    )
    shadow_id: uuid.UUID | None = Field(default=None, description="The shadow it ran for.")
    shadow_of: uuid.UUID | None = Field(
        default=None, description="The live execution a shadow call repeated."
    )

    @field_serializer("cost_usd")
    def _cost(self, value: Decimal) -> float:
        return float(value)


class ExecutionRead(ExecutionSummary):
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: dict[str, Any] | None
    attempts: list[AttemptRead]


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None
