"""Asking the models for one call: validate input → budget → route → repair/validate.

`execute` never raises for model trouble: it returns a `CallResult` holding either the
schema-valid output or the problem to answer with; the attempts are on the record. Routing
(`app.routing`) knows nothing of specs: this module turns the agent into the question it
routes — messages, output formats, a check of each reply and the re-ask that follows an
invalid one.
"""

from __future__ import annotations

from typing import Any

import structlog

from app.core.errors import (
    ChecksFailed,
    DeadlineExceeded,
    InvalidInput,
    Issue,
    NoModelAvailable,
    OutputTruncated,
    ProblemError,
    UpstreamInvalidOutput,
)
from app.executions.record import ExecutionRecord
from app.files.errors import VisionUnavailable
from app.files.intake import Attachments
from app.files.messages import attach
from app.files.vision import vision_problem
from app.providers.catalog import Deployment
from app.routing.ask import Ask, DeploymentRun, Verdict
from app.routing.budgets import BudgetExceeded
from app.routing.services import CallServices
from app.routing.tiers import route
from app.serving.live import AgentVersion
from app.serving.output import OutputOutcome, judged, parse_output
from app.serving.passed_over import reasons, retry_may_help
from app.serving.result import CallResult


class InputInvalid(InvalidInput):
    slug = "invalid-agent-input"
    title = "Input does not match the agent's input schema"


class PromptTooLarge(ProblemError):
    status = 413
    slug = "prompt-too-large"
    title = "The prompt does not fit any model's context window"


class ModelRequestRejected(ProblemError):
    status = 502
    slug = "model-request-rejected"
    title = "Every model rejected the request"


def model_tiers(
    agent: AgentVersion, default_model: str, override: str | None = None
) -> list[list[str]]:
    """Model names by tier: [primary, *fallbacks], then one tier per escalation model.

    `auto` is the model matrix's passing models in order of evidence (the default model
    while the version has no finished matrix), then the spec's own fallbacks.
    """
    choice = agent.document.model
    chosen = [default_model]
    if choice is not None and choice.auto:
        chosen = list(agent.auto_models) or chosen
    elif choice is not None and choice.name:
        chosen = [choice.name]
    if override:
        chosen = [override]
    first = list(dict.fromkeys([*chosen, *(choice.fallbacks if choice else [])]))
    escalation = [name for name in (choice.escalation if choice else []) if name not in first]
    return [first, *([name] for name in dict.fromkeys(escalation))]


async def execute(
    agent: AgentVersion,
    payload: Any,
    record: ExecutionRecord,
    *,
    services: CallServices,
    deadline_s: float | None = None,
    model_override: str | None = None,
    attachments: Attachments | None = None,
) -> CallResult:
    """Answer `payload` with `agent`'s models, its attempts on `record`.

    `attachments` are the call's prepared files (`app.files`); `payload` then holds
    references in their place. The deadline counts from now: files are prepared and the
    cache is looked up before.
    Every line logged meanwhile names the execution.
    """
    with structlog.contextvars.bound_contextvars(execution_id=str(record.id)):
        return await _execute(
            agent,
            payload,
            record,
            services,
            services.clock.monotonic(),
            deadline_s,
            model_override,
            attachments,
        )


async def _execute(
    agent: AgentVersion,
    payload: Any,
    record: ExecutionRecord,
    services: CallServices,
    started: float,
    deadline_s: float | None,
    model_override: str | None,
    attachments: Attachments | None,
) -> CallResult:
    problem = _input_problem(agent, payload)
    if problem is None and attachments is not None and attachments.needs_vision:
        problem = _vision_problem(agent, services, model_override)
    if problem is not None:
        return CallResult(record, None, problem)
    downgraded = False
    if services.budgets is not None:
        try:
            downgrade = await services.budgets.check(agent.name)
        except BudgetExceeded as exceeded:
            return CallResult(record, None, exceeded)
        if downgrade is not None:
            model_override, downgraded = downgrade, True
    choice = agent.document.model
    budget_s = deadline_s or (choice.timeout_s if choice and choice.timeout_s else None)
    ask = _ask(
        agent, payload, attachments, deadline=started + (budget_s or services.options.deadline_s)
    )
    tiers = model_tiers(agent, services.options.default_model, model_override)
    routed = await route(ask, tiers, record, services=services)
    if routed.answered_by is not None and routed.last is not None:
        record.model, record.offline = routed.last.model, routed.answered_by.offline
        return CallResult(record, routed.last.output, None, cacheable=not downgraded)
    if routed.deadline_passed:
        return CallResult(record, None, _deadline_problem(record))
    problem = _final_problem(routed.last, record)
    # Whether the caller should send it again depends on how the models failed.
    problem.extra.setdefault("retryable", retry_may_help(record, ask.temperature))
    return CallResult(record, None, problem)


def _input_problem(agent: AgentVersion, payload: Any) -> ProblemError | None:
    if not isinstance(payload, dict):
        return InputInvalid(
            "the request body must be a JSON object",
            issues=[Issue("", f"expected an object, got {type(payload).__name__}")],
        )
    issues = agent.compiled.validate_input(payload)
    return InputInvalid(summary(issues), issues=issues) if issues else None


def _vision_problem(
    agent: AgentVersion, services: CallServices, model_override: str | None
) -> VisionUnavailable | None:
    """A 422 when the input holds an image and no model of the first tier reads images."""
    first = model_tiers(agent, services.options.default_model, model_override)[0]
    deployments: list[Deployment] = [d for n in first for d in services.catalog.resolve(n)]
    return vision_problem(deployments)


def _ask(
    agent: AgentVersion,
    payload: dict[str, Any],
    attachments: Attachments | None,
    *,
    deadline: float,
) -> Ask:
    """The question routing asks every model: the spec's prompt, formats and checks."""
    compiled, choice = agent.compiled, agent.document.model
    # Documents and images: the model reads document text in place of references.
    prompt_input = attachments.prompt_input(payload) if attachments is not None else payload

    def check(text: str, strict: bool, placeholder: bool) -> OutputOutcome:
        outcome = parse_output(
            text, compiled.validate_output, compiled.decode_strict if strict else _same
        )
        if not outcome.ok or not compiled.has_checks:
            return outcome
        # Schema-valid: now the spec's own checks. A placeholder answer (the offline model)
        # cannot be held to them: its failures are recorded as warnings instead.
        result = compiled.judge_output(payload, prompt_input, outcome.value)
        return judged(outcome, result, enforce=not placeholder)

    def reask(text: str, verdict: Verdict) -> list[dict[str, Any]]:
        issues = list(verdict.issues)
        return attach(compiled.reask_messages(prompt_input, text, issues), attachments)

    return Ask(
        messages=attach(compiled.messages(prompt_input), attachments),
        schema_format=compiled.response_format,
        json_format=compiled.json_object_format,
        check=check,
        reask=reask,
        deadline=deadline,
        temperature=choice.temperature if choice else None,
        max_tokens=choice.max_tokens if choice else None,
        strict=compiled.strict,
        needs_vision=attachments is not None and attachments.needs_vision,
        hedge=choice.hedge if choice else None,
        hints=agent.offline_hints,
    )


def _same(value: Any) -> Any:
    return value


def summary(issues: list[Issue]) -> str:
    """One line naming the first issue (and how many more there are)."""
    first = issues[0]
    more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
    return f"{first.pointer or '/'}: {first.message}{more}"


def _final_problem(last: DeploymentRun | None, record: ExecutionRecord) -> ProblemError:
    if last is not None and last.truncated_at is not None:
        return OutputTruncated(
            f"the output was truncated: the model stopped at its output limit after "
            f"{last.truncated_at} tokens, so its answer is incomplete and was not used; "
            "raise the spec's model.max_tokens or choose a model with a larger output limit",
            extra={"retryable": False},
        )
    if last is not None and last.invalid is not None and last.invalid.stage == "check_failed":
        failed = list(last.invalid.issues)
        names = ", ".join(dict.fromkeys(i.check or "" for i in failed))
        return ChecksFailed(
            f"after {len(record.attempts)} attempt(s) the models' output still fails the "
            f"spec's checks ({names}): {summary(failed)} ({reasons(record)})",
            issues=failed,
        )
    if last is not None and last.invalid is not None:
        outcome = last.invalid
        what = (
            "no JSON object" if outcome.stage == "unparseable" else "output that breaks the schema"
        )
        return UpstreamInvalidOutput(
            f"after {len(record.attempts)} attempt(s) the models gave {what}: "
            f"{summary(list(outcome.issues))} ({reasons(record)})",
            issues=list(outcome.issues),
        )
    failure = last.failure if last is not None else None
    if failure is not None and failure.kind == "timeout":
        return _deadline_problem(record)
    if failure is not None and failure.kind in ("bad_request", "auth_error"):
        return ModelRequestRejected(f"the model provider rejected the request: {failure.message}")
    if _none_fits(record):
        return PromptTooLarge(
            f"the prompt fits no model's context window ({reasons(record)}); "
            "shorten the input or add a model with a larger window",
            extra={"retryable": False},
        )
    if record.attempts:
        detail = f"every model is unavailable ({reasons(record)})"
        if failure is not None:
            detail = f"{failure.message} ({reasons(record)})"
    else:
        detail = "no model is configured for this agent"
    return NoModelAvailable(f"no model could answer: {detail}", headers={"Retry-After": "1"})


def _none_fits(record: ExecutionRecord) -> bool:
    """Every model was passed over before a call, at least one for its context window."""
    outcomes = {a.outcome for a in record.attempts}
    return "context_too_small" in outcomes and all(a.kind == "skip" for a in record.attempts)


def _deadline_problem(record: ExecutionRecord) -> ProblemError:
    return DeadlineExceeded(
        f"no valid answer within the deadline after {len(record.attempts)} attempt(s)"
    )
