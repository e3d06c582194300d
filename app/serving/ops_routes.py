"""Operating the model layer (admin scope): models and their breakers, budgets."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from app.compiler.document import NAME_PATTERN
from app.core.database import SessionDep
from app.core.errors import responses
from app.core.schemas import RequestBody
from app.providers.capabilities import Capabilities
from app.routing import budgets
from app.routing.services import deployment_key, endpoint_key
from app.security import audit
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires
from app.serving.context import RuntimeDep

router = APIRouter(
    prefix="/api",
    responses=responses(Unauthorized, Forbidden, RateLimited),
)


class Detected(BaseModel):
    """What the deployment's own server said about itself when last asked."""

    reachable: bool
    models: list[str]
    context_window: int | None = Field(description="The context the server runs the model with.")
    model_context: int | None = Field(
        description="The model's own maximum, where the server says it (Ollama, LM Studio)."
    )
    server: str | None = Field(description="llama.cpp, vLLM, Ollama or LM Studio.")
    grammar: bool | None = Field(
        description="Takes response_format json_schema as a grammar (schema-constrained)."
    )
    error: str | None
    warnings: list[str] = Field(description="Where the models file disagrees with the server.")
    checked_at: datetime


class DeploymentRead(BaseModel):
    alias: str
    model: str
    api_base: str | None
    offline: bool
    local: bool = Field(
        description="A server of one's own (a loopback or private address, localhost)."
    )
    rpm: int | None
    tpm: int | None
    supports_response_schema: bool
    state: Literal["closed", "open", "half_open"]
    consecutive_failures: int
    recent_error_rate: float | None
    latency_p50_ms: float | None
    context_window: int | None = None
    max_concurrency: int | None = None
    waiting: int = 0  # calls of this process waiting for a free slot now
    # Measured from recent replies (None until a few have come back).
    prompt_tokens_per_s: float | None = None
    output_tokens_per_s: float | None = None
    # Asked of servers of their own (local ones) at start-up and by POST /api/models/check;
    # None: never asked (a hosted provider, or not yet).
    detected: Detected | None = None


class ModelList(BaseModel):
    offline: bool
    items: list[DeploymentRead]


@router.post("/models/check", tags=["models"], dependencies=[requires("admin")])
async def check_models(runtime: RuntimeDep) -> ModelList:
    """Ask every deployment with a server of its own what it serves (its models; for
    where the server says them, its context window and schema support), then list the models."""
    catalog = runtime.services.catalog
    await runtime.capabilities.check(d for group in catalog.deployments.values() for d in group)
    return await list_models(runtime)


@router.get("/models", tags=["models"], dependencies=[requires("viewer")])
async def list_models(runtime: RuntimeDep) -> ModelList:
    """Configured aliases, their provider models, each one's circuit-breaker state, and
    what its server said about itself when last asked."""
    services = runtime.services
    views = {}
    if services.breakers is not None:
        views = {view.deployment: view for view in services.breakers.snapshot()}
    catalog = services.catalog
    aliases = catalog.aliases() or [services.options.default_model]
    items = []
    for alias in aliases:
        for deployment in catalog.resolve(alias):
            view = views.get(deployment_key(deployment))
            endpoint = endpoint_key(deployment)
            speed = services.speeds.speed(endpoint)
            items.append(
                DeploymentRead(
                    alias=alias,
                    model=deployment.model,
                    api_base=deployment.api_base,
                    offline=deployment.offline,
                    local=deployment.local,
                    rpm=deployment.rpm,
                    tpm=deployment.tpm,
                    supports_response_schema=deployment.supports_response_schema,
                    state=view.state if view else "closed",
                    consecutive_failures=view.failures if view else 0,
                    recent_error_rate=view.recent_error_rate if view else None,
                    latency_p50_ms=view.p50_latency_ms if view else None,
                    context_window=deployment.context_window(),
                    max_concurrency=deployment.max_concurrency,
                    waiting=services.gates.waiting(endpoint),
                    prompt_tokens_per_s=_rate(speed.read_s_per_token) if speed else None,
                    output_tokens_per_s=_rate(speed.write_s_per_token) if speed else None,
                    detected=_detected(runtime.capabilities.get(deployment)),
                )
            )
    return ModelList(offline=catalog.offline, items=items)


def _detected(found: Capabilities | None) -> Detected | None:
    return None if found is None else Detected.model_validate(found, from_attributes=True)


def _rate(seconds_per_token: float) -> float | None:
    return round(1 / seconds_per_token, 1) if seconds_per_token > 0 else None


USD_STRING = r"^[0-9]{1,8}(\.[0-9]{1,6})?$"


def _usd(value: Any) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str) and re.fullmatch(USD_STRING, value):
        text = value
    else:
        raise ValueError('expected a number or a decimal string such as "12.50"')
    amount = Decimal(text)
    # Checked before rounding (1e308 would not round) and after (9.9999999e7 rounds up).
    if amount.is_finite() and 0 < amount < 100_000_000:
        amount = amount.quantize(Decimal("0.000001"))
        if 0 < amount < 100_000_000:
            return amount
    raise ValueError("expected more than 0 and less than 100,000,000, to the micro-dollar")


Usd = Annotated[
    Decimal,
    BeforeValidator(_usd),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100_000_000},
                {"type": "string", "pattern": USD_STRING},
            ],
            "description": "USD, a number or a decimal string; more than 0, to the micro-dollar.",
        }
    ),
]


class BudgetCreate(RequestBody):
    scope: Literal["global", "agent"]
    agent: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    period: Literal["day", "month"]
    limit_usd: Usd
    on_exceed: Literal["reject", "downgrade"] = "reject"
    downgrade_model: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.scope == "agent" and self.agent is None:
            raise ValueError("an agent budget names its agent")
        if self.scope == "global" and self.agent is not None:
            raise ValueError("a global budget names no agent")
        if self.on_exceed == "downgrade" and self.downgrade_model is None:
            raise ValueError("on_exceed 'downgrade' needs downgrade_model")
        return self


class BudgetRead(BaseModel):
    id: uuid.UUID
    scope: str
    agent: str | None
    period: str
    limit_usd: float
    on_exceed: str
    downgrade_model: str | None
    spent_usd: float
    resets_at: datetime


class BudgetList(BaseModel):
    items: list[BudgetRead]


def _read(item: budgets.BudgetStatus) -> BudgetRead:
    budget = item.budget
    return BudgetRead(
        id=budget.id,
        scope=budget.scope,
        agent=budget.agent,
        period=budget.period,
        limit_usd=float(budget.limit_usd),
        on_exceed=budget.on_exceed,
        downgrade_model=budget.downgrade_model,
        spent_usd=float(item.spent_usd),
        resets_at=item.resets_at,
    )


@router.get("/budgets", tags=["budgets"], dependencies=[requires("viewer")])
async def list_budgets(session: SessionDep, runtime: RuntimeDep) -> BudgetList:
    """Every budget with what was spent in its current period and when that period ends."""
    statuses = await budgets.list_budgets(session, runtime.services.clock.now())
    return BudgetList(items=[_read(s) for s in statuses])


@router.post(
    "/budgets",
    tags=["budgets"],
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires("admin")],
    responses=responses(budgets.BudgetExists),
)
async def create_budget(
    body: BudgetCreate, session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep
) -> BudgetRead:
    """Add a daily or monthly USD budget, global or for one agent."""
    budget = await budgets.create_budget(
        session,
        scope=body.scope,
        agent=body.agent,
        period=body.period,
        limit_usd=body.limit_usd,
        on_exceed=body.on_exceed,
        downgrade_model=body.downgrade_model,
    )
    await audit.record(
        session,
        actor=principal.actor,
        action="budget.created",
        target=f"budget:{budget.id}",
        details=body.model_dump(mode="json"),
    )
    if runtime.services.budgets is not None:
        runtime.services.budgets.invalidate()
    statuses = await budgets.list_budgets(session, runtime.services.clock.now())
    return _read(next(s for s in statuses if s.budget.id == budget.id))


@router.delete(
    "/budgets/{budget_id}",
    tags=["budgets"],
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[requires("admin")],
    responses=responses(budgets.BudgetNotFound),
)
async def delete_budget(
    budget_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, principal: PrincipalDep
) -> Response:
    """Remove a budget."""
    await budgets.delete_budget(session, budget_id)
    await audit.record(
        session, actor=principal.actor, action="budget.deleted", target=f"budget:{budget_id}"
    )
    if runtime.services.budgets is not None:
        runtime.services.budgets.invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
