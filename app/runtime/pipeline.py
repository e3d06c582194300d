"""The path of one call: validate input → ask models in order → repair/validate → re-ask.

`execute` never raises for model trouble: it returns a `CallResult` holding either the
schema-valid output or the problem to answer with, plus the execution record of every
attempt. The caller answers and hands the record to the writer.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from app.core.errors import (
    DeadlineExceeded,
    InvalidInput,
    NoModelAvailable,
    ProblemError,
    UpstreamInvalidOutput,
)
from app.registry.document import Issue
from app.runtime.executions import AttemptRecord, ExecutionRecord
from app.runtime.live import AgentVersion
from app.runtime.llm import ModelCallFailed, call_model
from app.runtime.models_config import Deployment, ModelCatalog
from app.runtime.output import OutputOutcome, parse_output

log = structlog.get_logger(__name__)


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


@dataclass
class CallResult:
    """The answer to one call, and its record."""

    record: ExecutionRecord
    output: dict[str, Any] | None
    problem: ProblemError | None


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


def model_route(agent: AgentVersion, default_model: str) -> list[str]:
    """Model names to try in order: the spec's model, then its fallbacks, without repeats."""
    choice = agent.document.model
    names = [choice.name if choice and choice.name else default_model]
    names.extend(choice.fallbacks if choice else [])
    return list(dict.fromkeys(names))


async def execute(
    agent: AgentVersion,
    payload: Any,
    *,
    catalog: ModelCatalog,
    options: CallOptions,
    request_id: str | None = None,
) -> CallResult:
    """Run one call of `agent` on `payload` through validation, models and repair."""
    started = time.perf_counter()
    record = new_record(agent.name, agent.version, payload, request_id)
    result = await _run(agent, payload, record, catalog, options, started)
    record.latency_ms = (time.perf_counter() - started) * 1000
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
    catalog: ModelCatalog,
    options: CallOptions,
    started: float,
) -> CallResult:
    compiled = agent.compiled
    if not isinstance(payload, dict):
        problem = InputInvalid(
            "the request body must be a JSON object",
            issues=[Issue("", f"expected an object, got {type(payload).__name__}")],
        )
        return CallResult(record, None, problem)
    issues = compiled.validate_input(payload)
    if issues:
        return CallResult(record, None, InputInvalid(_summary(issues), issues=issues))

    choice = agent.document.model
    deadline = started + (choice.timeout_s if choice and choice.timeout_s else options.deadline_s)
    last_failure: ModelCallFailed | None = None
    last_invalid: OutputOutcome | None = None
    deployments = [
        d for name in model_route(agent, options.default_model) for d in catalog.resolve(name)
    ]
    for index, deployment in enumerate(deployments):
        kind = "ask" if index == 0 else "fallback"
        messages = compiled.messages(payload)
        for _ in range(options.max_reasks + 1):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return CallResult(record, None, _deadline_problem(options, record))
            try:
                reply = await call_model(
                    deployment,
                    messages,
                    response_format=_format_for(agent, deployment),
                    timeout_s=min(deployment.timeout_s or options.attempt_timeout_s, remaining),
                    temperature=choice.temperature if choice else None,
                    max_tokens=choice.max_tokens if choice else None,
                    metadata=agent.offline_hints if deployment.offline else None,
                )
            except ModelCallFailed as failure:
                record.attempts.append(_failed_attempt(record, kind, deployment, failure))
                last_failure = failure
                break  # this deployment gave no answer: go to the next one
            decode = compiled.decode_strict if _uses_strict(agent, deployment) else _identity
            outcome = parse_output(reply.text, compiled.validate_output, decode)
            record.attempts.append(
                AttemptRecord(
                    number=len(record.attempts) + 1,
                    kind=kind,
                    model=reply.model,
                    outcome=outcome.stage,
                    latency_ms=reply.latency_ms,
                    raw_text=reply.text,
                    issues=[{"pointer": i.pointer, "message": i.message} for i in outcome.issues]
                    or None,
                    prompt_tokens=reply.prompt_tokens,
                    completion_tokens=reply.completion_tokens,
                    cost_usd=reply.cost_usd,
                )
            )
            if outcome.ok:
                record.model = reply.model
                record.offline = deployment.offline
                return CallResult(record, outcome.value, None)
            last_invalid = outcome
            messages = compiled.reask_messages(payload, reply.text, list(outcome.issues))
            kind = "reask"

    if last_invalid is not None:
        return CallResult(record, None, _invalid_output_problem(last_invalid, record))
    if last_failure is not None and last_failure.kind == "timeout":
        return CallResult(record, None, _deadline_problem(options, record))
    if last_failure is not None and last_failure.kind in ("bad_request", "auth_error"):
        return CallResult(
            record,
            None,
            ModelRequestRejected(
                f"the model provider rejected the request: {last_failure.message}"
            ),
        )
    detail = last_failure.message if last_failure else "no model is configured for this agent"
    return CallResult(
        record,
        None,
        NoModelAvailable(f"no model could answer: {detail}", headers={"Retry-After": "1"}),
    )


def _identity(value: Any) -> Any:
    return value


def _uses_strict(agent: AgentVersion, deployment: Deployment) -> bool:
    return deployment.supports_response_schema and agent.compiled.strict


def _format_for(agent: AgentVersion, deployment: Deployment) -> dict[str, Any]:
    # The same contract travels to every model, fallbacks included: the schema when the
    # provider takes one, JSON mode (with the schema in the prompt) when it does not.
    if deployment.supports_response_schema:
        return agent.compiled.response_format
    return agent.compiled.json_object_format


def _failed_attempt(
    record: ExecutionRecord, kind: str, deployment: Deployment, failure: ModelCallFailed
) -> AttemptRecord:
    return AttemptRecord(
        number=len(record.attempts) + 1,
        kind=kind,
        model=deployment.model,
        outcome=failure.kind,
        latency_ms=failure.latency_ms,
        error=(f"HTTP {failure.status}: " if failure.status else "") + failure.message[:2000],
    )


def _summary(issues: list[Issue]) -> str:
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{first.pointer or '/'}: {first.message}{more}"


def _invalid_output_problem(outcome: OutputOutcome, record: ExecutionRecord) -> ProblemError:
    issues = list(outcome.issues)
    what = "no JSON object" if outcome.stage == "unparseable" else "output that breaks the schema"
    return UpstreamInvalidOutput(
        f"after {len(record.attempts)} attempt(s) the models gave {what}: {_summary(issues)}",
        issues=issues,
        extra={"execution_id": str(record.id)},
    )


def _deadline_problem(options: CallOptions, record: ExecutionRecord) -> ProblemError:
    return DeadlineExceeded(
        f"no valid answer within the deadline after {len(record.attempts)} attempt(s)",
        extra={"execution_id": str(record.id)},
    )
