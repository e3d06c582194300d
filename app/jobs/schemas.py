"""Request and response bodies of the jobs API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator

from app.registry.schemas import VERSION_MAX

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled", "partially_failed"]
ItemStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobCreate(BaseModel):
    """One input (`input`) or a batch (`inputs`) to run asynchronously."""

    input: dict[str, Any] | None = Field(default=None, description="One input object.")
    inputs: list[Any] | None = Field(
        default=None,
        description="A batch of inputs (at most SPECLOOM_MAX_BATCH_ITEMS); each is validated "
        "against the agent's input schema on its own.",
    )
    version: int | None = Field(default=None, ge=1, le=VERSION_MAX, description="Pin a version.")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Submitting again with the same key (per API key and agent) returns the "
        "same job.",
    )
    webhook_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="POSTed a signed summary when the job finishes.",
    )

    @model_validator(mode="after")
    def one_of_input_or_inputs(self) -> Self:
        if (self.input is None) == (self.inputs is None):
            raise ValueError("give exactly one of 'input' (an object) or 'inputs' (a list)")
        if self.inputs is not None and not self.inputs:
            raise ValueError("'inputs' must hold at least one input")
        return self

    def items(self) -> list[Any]:
        return [self.input] if self.input is not None else list(self.inputs or [])


class WebhookAttempt(BaseModel):
    """One delivery attempt of the job's webhook."""

    attempt: int
    succeeded: bool
    status_code: int | None
    error: str | None
    latency_ms: float
    at: datetime


class JobRead(BaseModel):
    """A job: status, counts by item status, progress and cost so far."""

    id: uuid.UUID
    agent: str
    version: int
    status: JobStatus
    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    progress: float = Field(description="Finished items / total, from 0 to 1.")
    cost_usd: float
    idempotency_key: str | None
    webhook_url: str | None
    created_at: datetime
    finished_at: datetime | None
    status_url: str
    results_url: str
    webhook_deliveries: list[WebhookAttempt]


class JobPage(BaseModel):
    items: list[JobRead]


class ItemResult(BaseModel):
    """One line of `GET /v1/jobs/{id}/results` (JSON Lines, in input order)."""

    index: int
    status: ItemStatus
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    execution_id: uuid.UUID | None = None
