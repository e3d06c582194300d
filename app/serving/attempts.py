"""Everything one model deployment does for a call: breaker and rate-limit gates, retries
with backoff on transient failures, and re-asks when its output is invalid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from app.core.tracing import span
from app.executions.writer import AttemptRecord, ExecutionRecord
from app.files.intake import Attachments
from app.files.messages import attach
from app.providers.catalog import Deployment
from app.providers.llm import ModelCallFailed, ModelReply, call_model
from app.serving.live import AgentVersion
from app.serving.output import OutputOutcome, parse_output

if TYPE_CHECKING:
    from app.serving.pipeline import CallServices

log = structlog.get_logger(__name__)


@dataclass
class DeploymentRun:
    """How one deployment's turn ended."""

    output: dict[str, Any] | None = None
    model: str | None = None
    invalid: OutputOutcome | None = None
    failure: ModelCallFailed | None = None
    skipped: list[str] = field(default_factory=list)
    deadline_passed: bool = False


def deployment_key(deployment: Deployment) -> str:
    """Identity of a deployment for breakers and rate limits, shared by all processes."""
    return f"{deployment.alias}|{deployment.model}|{deployment.api_base or ''}"[:300]


async def run_deployment(
    agent: AgentVersion,
    payload: dict[str, Any],
    deployment: Deployment,
    record: ExecutionRecord,
    *,
    services: CallServices,
    deadline: float,
    first_kind: str,
    attachments: Attachments | None = None,
) -> DeploymentRun:
    """Ask `deployment` until it gives a valid output, gives up, or the deadline passes."""
    clock, options = services.clock, services.options
    key = deployment_key(deployment)
    run = DeploymentRun()
    if services.breakers is not None and not await services.breakers.allow(key):
        _skip(record, deployment, "breaker_open")
        run.skipped.append(f"{deployment.alias}: circuit open")
        return run
    if attachments is not None and attachments.needs_vision and not deployment.supports_vision:
        _skip(record, deployment, "no_vision")
        run.skipped.append(f"{deployment.alias}: cannot read images")
        return run
    compiled = agent.compiled
    # Documents and images (issue 11): the model reads document text in place of references.
    prompt_input = attachments.prompt_input(payload) if attachments is not None else payload
    messages = attach(compiled.messages(prompt_input), attachments)
    kind, retries, reasks = first_kind, 0, 0
    estimate = 0
    while True:
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            run.deadline_passed = True
            return run
        if services.limiter is not None and (deployment.rpm or deployment.tpm):
            estimate = sum(len(str(m.get("content", ""))) for m in messages) // 4
            wait = min(options.rate_limit_wait_s, remaining)
            if not await services.limiter.acquire(
                key, rpm=deployment.rpm, tpm=deployment.tpm, tokens=estimate, max_wait_s=wait
            ):
                _skip(record, deployment, "rate_limited_local")
                run.skipped.append(f"{deployment.alias}: at its rate limit")
                return run
        try:
            with span(f"chat {deployment.model}", {"gen_ai.request.model": deployment.model}) as s:
                s.set_attribute("specloom.attempt", kind)
                reply = await _call(agent, deployment, messages, services, deadline)
                s.set_attribute("gen_ai.usage.input_tokens", reply.prompt_tokens)
                s.set_attribute("gen_ai.usage.output_tokens", reply.completion_tokens)
        except ModelCallFailed as failure:
            record.attempts.append(_failed(record, kind, deployment, failure))
            # Not the message: a provider may echo parts of the request in it.
            log.warning(
                "model attempt failed",
                model=deployment.model,
                failure=failure.kind,
                http_status=failure.status,
                latency_ms=round(failure.latency_ms, 2),
            )
            run.failure = failure
            if services.breakers is not None and failure.transient:
                await services.breakers.record_failure(key, failure.latency_ms)
            if not failure.transient or retries >= options.retry.max_retries:
                return run
            pause = options.retry.delay(retries, failure.retry_after_s)
            if clock.monotonic() + pause >= deadline:
                return run  # no time to wait here; a fallback may still answer in time
            await clock.sleep(pause)
            retries, kind = retries + 1, "retry"
            continue
        if services.breakers is not None:
            await services.breakers.record_success(key, reply.latency_ms)
        if services.limiter is not None and deployment.tpm:
            # acquire() already counted the estimate; add only the difference.
            used = reply.prompt_tokens + reply.completion_tokens
            await services.limiter.record_tokens(key, used, reserved=estimate)
        strict = deployment.supports_response_schema and compiled.strict
        outcome = parse_output(
            reply.text, compiled.validate_output, compiled.decode_strict if strict else _same
        )
        record.attempts.append(_answered(record, kind, deployment, reply, outcome))
        if outcome.ok:
            # The configured model string names it everywhere (log, usage, header), so one
            # deployment never shows under two names when a provider echoes another.
            run.output, run.model = outcome.value, deployment.model
            return run
        run.invalid = outcome
        if reasks >= options.max_reasks:
            return run
        reasks, kind = reasks + 1, "reask"
        messages = attach(
            compiled.reask_messages(prompt_input, reply.text, list(outcome.issues)), attachments
        )


async def _call(
    agent: AgentVersion,
    deployment: Deployment,
    messages: list[dict[str, Any]],
    services: CallServices,
    deadline: float,
) -> ModelReply:
    choice = agent.document.model
    compiled = agent.compiled
    # The same contract travels to every model, fallbacks included: the schema when the
    # provider takes one, JSON mode (with the schema in the prompt) when it does not.
    response_format = (
        compiled.response_format
        if deployment.supports_response_schema
        else compiled.json_object_format
    )
    remaining = deadline - services.clock.monotonic()
    return await call_model(
        deployment,
        messages,
        response_format=response_format,
        timeout_s=max(
            0.001, min(deployment.timeout_s or services.options.attempt_timeout_s, remaining)
        ),
        temperature=choice.temperature if choice else None,
        max_tokens=choice.max_tokens if choice else None,
        metadata=agent.offline_hints if deployment.offline else None,
    )


def _same(value: Any) -> Any:
    return value


def _answered(
    record: ExecutionRecord,
    kind: str,
    deployment: Deployment,
    reply: ModelReply,
    outcome: OutputOutcome,
) -> AttemptRecord:
    return AttemptRecord(
        number=len(record.attempts) + 1,
        kind=kind,
        model=deployment.model,
        outcome=outcome.stage,
        latency_ms=reply.latency_ms,
        raw_text=reply.text,
        issues=[{"pointer": i.pointer, "message": i.message} for i in outcome.issues] or None,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cost_usd=reply.cost_usd,
    )


def _failed(
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


def _skip(record: ExecutionRecord, deployment: Deployment, why: str) -> None:
    # Not a model call, but the log should say why a model was passed over.
    record.attempts.append(
        AttemptRecord(
            number=len(record.attempts) + 1,
            kind="skip",
            model=deployment.model,
            outcome=why,
            latency_ms=0.0,
        )
    )
