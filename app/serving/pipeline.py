"""The path of one call: validate input → route through models → repair/validate → re-ask.

`execute` never raises for model trouble: it returns a `CallResult` holding either the
schema-valid output or the problem to answer with, plus the execution record of every
attempt. The caller answers and hands the record to the writer.

Routing has tiers. The first tier is the spec's model and its fallbacks: the next model of
the tier is tried when one is unavailable (breaker open, at its rate limit, failing after
retries) or its output stayed invalid after the re-asks. Later tiers are the spec's
escalation models, entered only when some model of the tier answered but never validly:
an outage alone never moves a call to a stronger, dearer model. Every model gets the same
schema and the same validation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from app.core.clock import Clock, SystemClock
from app.core.errors import (
    DeadlineExceeded,
    InvalidInput,
    Issue,
    NoModelAvailable,
    ProblemError,
    UpstreamInvalidOutput,
)
from app.executions.writer import ExecutionRecord
from app.files.intake import Attachments
from app.files.vision import vision_problem
from app.providers.catalog import Deployment, ModelCatalog
from app.routing.budgets import BudgetExceeded, BudgetGuard
from app.routing.retry import RetryPolicy
from app.serving.attempts import DeploymentRun, run_deployment
from app.serving.live import AgentVersion

if TYPE_CHECKING:
    from app.core.ratelimit import RateLimiter
    from app.routing.breakers import CircuitBreakers


class InputInvalid(InvalidInput):
    slug = "invalid-agent-input"
    title = "Input does not match the agent's input schema"


class ModelRequestRejected(ProblemError):
    status = 502
    slug = "model-request-rejected"
    title = "Every model rejected the request"


@dataclass(frozen=True)
class CallOptions:
    """Per-call knobs, from settings and the spec."""

    default_model: str
    max_reasks: int
    attempt_timeout_s: float
    deadline_s: float
    rate_limit_wait_s: float = 2.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class CallServices:
    """What a call needs besides the agent and the input."""

    catalog: ModelCatalog
    options: CallOptions
    clock: Clock = field(default_factory=SystemClock)
    breakers: CircuitBreakers | None = None
    limiter: RateLimiter | None = None
    budgets: BudgetGuard | None = None


@dataclass
class CallResult:
    """The answer to one call, and its record."""

    record: ExecutionRecord
    output: dict[str, Any] | None
    problem: ProblemError | None
    # False when the answer is not the spec's usual one (a budget routed it to a cheaper
    # model), so it must not be served to later identical calls.
    cacheable: bool = True


def new_record(
    agent: str, version: int | None, payload: Any, request_id: str | None
) -> ExecutionRecord:
    """An execution record started now."""
    return ExecutionRecord(
        id=uuid.uuid4(),
        agent=agent,
        version=version,
        input=payload if isinstance(payload, dict) else {"_raw": payload},
        created_at=datetime.now(UTC),
        request_id=request_id,
    )


def model_tiers(
    agent: AgentVersion, default_model: str, override: str | None = None
) -> list[list[str]]:
    """Model names by tier: [primary, *fallbacks], then one tier per escalation model."""
    choice = agent.document.model
    primary = override or (choice.name if choice and choice.name else default_model)
    first = list(dict.fromkeys([primary, *(choice.fallbacks if choice else [])]))
    escalation = [name for name in (choice.escalation if choice else []) if name not in first]
    return [first, *([name] for name in dict.fromkeys(escalation))]


async def execute(
    agent: AgentVersion,
    payload: Any,
    *,
    services: CallServices,
    request_id: str | None = None,
    deadline_s: float | None = None,
    model_override: str | None = None,
    attachments: Attachments | None = None,
) -> CallResult:
    """Run one call of `agent` on `payload` through validation, models and repair.

    `attachments` are the call's prepared files (`app.documents`); `payload` then holds
    references in their place.
    """
    clock = services.clock
    started = clock.monotonic()
    record = new_record(agent.name, agent.version, payload, request_id)
    with structlog.contextvars.bound_contextvars(execution_id=str(record.id)):
        result = await _run(
            agent, payload, record, services, started, deadline_s, model_override, attachments
        )
    record.latency_ms = (clock.monotonic() - started) * 1000
    if result.problem is not None:
        record.status = "failed"
        record.error = result.problem.problem(request_id)
    else:
        record.status = "succeeded"
        record.output = result.output
    return result


async def _run(
    agent: AgentVersion,
    payload: Any,
    record: ExecutionRecord,
    services: CallServices,
    started: float,
    deadline_s: float | None,
    model_override: str | None,
    attachments: Attachments | None = None,
) -> CallResult:
    if not isinstance(payload, dict):
        problem = InputInvalid(
            "the request body must be a JSON object",
            issues=[Issue("", f"expected an object, got {type(payload).__name__}")],
        )
        return CallResult(record, None, problem)
    issues = agent.compiled.validate_input(payload)
    if issues:
        return CallResult(record, None, InputInvalid(summary(issues), issues=issues))
    if attachments is not None and attachments.needs_vision:  # documents and images (issue 11)
        tiers = model_tiers(agent, services.options.default_model, model_override)
        no_vision = vision_problem([d for n in tiers[0] for d in services.catalog.resolve(n)])
        if no_vision is not None:
            return CallResult(record, None, no_vision)

    downgraded = False
    if services.budgets is not None:
        try:
            downgrade = await services.budgets.check(agent.name)
        except BudgetExceeded as exceeded:
            return CallResult(record, None, exceeded)
        if downgrade is not None:
            model_override, downgraded = downgrade, True
    options = services.options
    choice = agent.document.model
    budget_s = deadline_s or (choice.timeout_s if choice and choice.timeout_s else None)
    deadline = started + (budget_s or options.deadline_s)
    last: DeploymentRun | None = None
    for tier in model_tiers(agent, options.default_model, model_override):
        deployments: list[Deployment] = [d for n in tier for d in services.catalog.resolve(n)]
        answered = False
        for index, deployment in enumerate(deployments):
            run = await run_deployment(
                agent,
                payload,
                deployment,
                record,
                services=services,
                deadline=deadline,
                first_kind="ask" if not record.attempts else "fallback" if index else "escalation",
                attachments=attachments,
            )
            last = run
            if run.output is not None:
                record.model = run.model
                record.offline = deployment.offline
                return CallResult(record, run.output, None, cacheable=not downgraded)
            # An invalid answer or an unavailable model: the next model of the tier may do
            # better; a caller should see a slower answer rather than an error.
            answered = answered or run.invalid is not None
            if run.deadline_passed:
                return CallResult(record, None, _deadline_problem(record))
        if not answered:
            break  # escalation is for invalid answers only, not for unavailable models
    return CallResult(record, None, _final_problem(last, record))


def summary(issues: list[Issue]) -> str:
    """One line naming the first issue (and how many more there are)."""
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{first.pointer or '/'}: {first.message}{more}"


def _final_problem(last: DeploymentRun | None, record: ExecutionRecord) -> ProblemError:
    if last is not None and last.invalid is not None:
        outcome = last.invalid
        what = (
            "no JSON object" if outcome.stage == "unparseable" else "output that breaks the schema"
        )
        return UpstreamInvalidOutput(
            f"after {len(record.attempts)} attempt(s) the models gave {what}: "
            f"{summary(list(outcome.issues))}",
            issues=list(outcome.issues),
        )
    failure = last.failure if last is not None else None
    if failure is not None and failure.kind == "timeout":
        return _deadline_problem(record)
    if failure is not None and failure.kind in ("bad_request", "auth_error"):
        return ModelRequestRejected(f"the model provider rejected the request: {failure.message}")
    if failure is not None:
        detail = failure.message
    elif last is not None and last.skipped:
        detail = "every model is unavailable (" + ", ".join(last.skipped) + ")"
    else:
        detail = "no model is configured for this agent"
    return NoModelAvailable(f"no model could answer: {detail}", headers={"Retry-After": "1"})


def _deadline_problem(record: ExecutionRecord) -> ProblemError:
    return DeadlineExceeded(
        f"no valid answer within the deadline after {len(record.attempts)} attempt(s)"
    )
