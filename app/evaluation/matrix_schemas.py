"""API shapes of model matrices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from app.core.schemas import RequestBody
from app.registry.schemas import Schema

MatrixStatus = Literal["queued", "running", "finished", "error"]


class MatrixRequest(RequestBody):
    """`POST /api/specs/{name}/versions/{n}/model-matrix`: which models, how often."""

    models: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Aliases or deployments' model strings from the models file; default: "
        "every configured alias.",
    )
    repeat: int | None = Field(
        default=None, ge=1, le=100, description="Runs of every case per model; default: each "
        "case's own `repeat`.",
    )  # fmt: skip


class ModelEstimate(Schema):
    model: str
    calls: int
    # None: the models file gives no price and litellm's map does not know the model.
    cost_usd: float | None


class Estimate(Schema):
    """What the matrix should cost: one attempt per call, prompts counted roughly (about
    four characters a token), answers as long as the spec's example outputs."""

    calls: int
    cost_usd: float
    models: list[ModelEstimate]
    unpriced: list[str]


class MatrixRow(Schema):
    """One model's evidence: its suite run on that model alone."""

    model: str
    status: str
    test_run: uuid.UUID
    calls: int
    pass_rate: float
    wilson_lower: float
    passed: bool | None
    check_failures: int
    invalid_rate: float
    reasks_per_call: float
    # Everything the model's calls cost, re-asks included, per call that gave valid output
    # (None: none did).
    cost_usd_per_call: float | None
    cost_usd: float
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    offline: bool


class MatrixRead(Schema):
    id: uuid.UUID
    spec: str
    version: int
    status: MatrixStatus
    models: list[str]
    repeat: int | None
    estimate: Estimate | None = None
    estimate_usd: float
    cost_usd: float
    rows: list[MatrixRow]
    recommended: str | None
    # Passing models, cheapest valid call first: what an `auto` version is served by.
    ranking: list[str]
    # The models file changed for these models since the matrix ran: run it again.
    stale: bool
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MatrixList(Schema):
    items: list[MatrixRead]
