"""One deployment's turn in a call, as small policies: gates, retries and re-asks.

A turn passes the gates (circuit breaker, vision, rate limit), then asks; a transient
failure is retried with backoff while the deadline allows, and an invalid answer is
re-asked with the reasons, up to the options' limits. A reply the provider cut off at the
output limit is never parsed (repair would turn missing content into a shorter, wrong
answer): it is asked once more with a larger limit when the model allows one, else the
turn ends. Every model call and every skip is an attempt on the execution record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from app.core.errors import Issue
from app.core.tracing import span
from app.executions.record import AttemptKind, AttemptOutcome, AttemptRecord, ExecutionRecord
from app.providers import tokens
from app.providers.base import ModelCallFailed, ModelReply
from app.providers.catalog import Deployment
from app.providers.llm import call_model
from app.routing.ask import Ask, DeploymentRun, Messages
from app.routing.concurrency import SlotWaitExpired
from app.routing.pace import Leash
from app.routing.services import CallServices, deployment_key, endpoint_key

log = structlog.get_logger(__name__)


@dataclass
class _Turn:
    """The state of one deployment's turn."""

    ask: Ask
    deployment: Deployment
    record: ExecutionRecord
    services: CallServices
    kind: AttemptKind
    key: str
    messages: Messages
    run: DeploymentRun = field(default_factory=DeploymentRun)
    retries: int = 0
    reasks: int = 0
    max_tokens: int | None = None  # the output limit sent; raised once after a truncation
    widened: bool = False
    estimate: int = 0  # tokens reserved with the rate limiter for the next call
    leash: Leash | None = None  # None: the configured attempt timeout, timeouts retried
    prompt_tokens: int | None = None  # counted when the prompt came near the context window
    # The last attempt's timeout was what remained of the call's deadline, not the
    # deployment's own: its timing out says nothing about the deployment.
    cut_by_deadline: bool = False
    rejected: set[str] = field(default_factory=set)  # texts of the replies judged invalid

    def attempt(
        self,
        outcome: AttemptOutcome,
        latency_ms: float,
        *,
        kind: AttemptKind | None = None,
        reply: ModelReply | None = None,
        issues: list[dict[str, str]] | None = None,
        error: str | None = None,
    ) -> None:
        """Put one attempt of this deployment on the record (with its reply, if any)."""
        self.record.attempts.append(
            AttemptRecord(
                number=len(self.record.attempts) + 1,
                kind=kind or self.kind,
                model=self.deployment.model,
                outcome=outcome,
                latency_ms=latency_ms,
                raw_text=reply.text if reply else None,
                issues=issues,
                error=error,
                prompt_tokens=reply.prompt_tokens if reply else 0,
                completion_tokens=reply.completion_tokens if reply else 0,
                cost_usd=reply.cost_usd if reply else 0.0,
            )
        )

    def skip(self, outcome: AttemptOutcome, why: str) -> DeploymentRun:
        # Not a model call, but the log should say why a model was passed over.
        self.attempt(outcome, 0.0, kind="skip", error=why)
        self.run.skipped.append(f"{self.deployment.alias}: {why}")
        return self.run


async def run_deployment(
    ask: Ask,
    deployment: Deployment,
    record: ExecutionRecord,
    *,
    services: CallServices,
    first_kind: AttemptKind,
    leash: Leash | None = None,
) -> DeploymentRun:
    """Ask `deployment` until it gives a valid output, gives up, or the deadline passes.

    `leash` bounds each attempt (the tiers leave room for the candidates behind it)."""
    # A turn of its own of the messages: a provider that changed them in place must not
    # change what the next deployment is asked.
    messages = [dict(message) for message in ask.messages]
    turn = _Turn(
        ask,
        deployment,
        record,
        services,
        first_kind,
        deployment_key(deployment),
        messages,
        # A spec without a limit gets the one the models file declares for the model: a
        # local server would otherwise write until its context is full.
        max_tokens=ask.max_tokens or deployment.max_output_tokens,
    )
    turn.leash = leash
    if not await _gates_open(turn):
        return turn.run
    while True:
        remaining = ask.deadline - services.clock.monotonic()
        if remaining <= 0:
            turn.run.deadline_passed = True
            return turn.run
        if not await _within_rate_limit(turn, remaining):
            return turn.run
        try:
            reply = await _ask_once(turn)
        except SlotWaitExpired:
            # Specloom's own queue, not the model: no failure for its breaker.
            turn.attempt("queue_timeout", 0.0, error="no free slot before the deadline")
            turn.run.deadline_passed = True
            return turn.run
        except ModelCallFailed as failure:
            if await _retry_after_failure(turn, failure):
                continue
            return turn.run
        await _after_reply(turn, reply)
        if not _reask_after_reply(turn, reply):
            return turn.run


async def _gates_open(turn: _Turn) -> bool:
    """The breaker and vision gates: False (with a skip recorded) when one is shut."""
    breakers = turn.services.breakers
    if breakers is not None and not await breakers.allow(turn.key):
        turn.skip("breaker_open", "circuit open")
        return False
    if turn.ask.needs_vision and not turn.deployment.supports_vision:
        turn.skip("no_vision", "cannot read images")
        return False
    return await _fits_context(turn)


async def _fits_context(turn: _Turn) -> bool:
    """The context gate: False (with a skip naming the sizes) when the prompt and the output
    limit cannot fit the deployment's window. Counted only when a cheap bound cannot tell."""
    window = turn.deployment.context_window()
    if window is None:
        return True
    room = turn.max_tokens or 0
    if tokens.upper_bound(turn.messages) + room <= window:
        return True
    by_server = await turn.services.counts.count(turn.deployment, turn.messages)
    turn.prompt_tokens = (
        by_server
        if by_server is not None
        else await tokens.count(turn.deployment.model, turn.messages)
    )
    if turn.prompt_tokens + room <= window:
        return True
    turn.run.context_needed = turn.prompt_tokens + room
    output = f" + {room} output" if room else ""
    counter = "its server's tokenizer" if by_server is not None else "litellm's counter"
    turn.skip(
        "context_too_small",
        f"the prompt needs {turn.prompt_tokens}{output} tokens by {counter}; "
        f"its window holds {window}",
    )
    return False


async def _within_rate_limit(turn: _Turn, remaining: float) -> bool:
    """The rate-limit gate: waits a little for room, else skips the deployment."""
    limiter, deployment = turn.services.limiter, turn.deployment
    if limiter is None or not (deployment.rpm or deployment.tpm):
        return True
    turn.estimate = sum(len(str(m.get("content", ""))) for m in turn.messages) // 4
    wait = min(turn.services.options.rate_limit_wait_s, remaining)
    if await limiter.acquire(
        turn.key, rpm=deployment.rpm, tpm=deployment.tpm, tokens=turn.estimate, max_wait_s=wait
    ):
        return True
    turn.skip("rate_limited_local", "at its rate limit")
    return False


async def _ask_once(turn: _Turn) -> ModelReply:
    deployment, ask, services = turn.deployment, turn.ask, turn.services
    model = deployment.model
    endpoint = endpoint_key(deployment)
    waited = ask.deadline - services.clock.monotonic()
    async with services.gates.slot(endpoint, deployment.max_concurrency, wait_s=waited):
        with span(f"chat {model}", {"gen_ai.request.model": model}) as current:
            current.set_attribute("specloom.attempt", turn.kind)
            # Counted from here: time spent waiting for a slot is not the model's.
            remaining = ask.deadline - services.clock.monotonic()
            limit = _attempt_timeout(turn, endpoint)
            turn.cut_by_deadline = remaining < limit
            reply = await call_model(
                deployment,
                turn.messages,
                # The same contract travels to every model, fallbacks included: the schema
                # when the provider takes one, JSON mode (the schema in the prompt) when not.
                response_format=(
                    ask.schema_format if deployment.supports_response_schema else ask.json_format
                ),
                timeout_s=max(0.001, min(limit, remaining)),
                temperature=ask.temperature,
                max_tokens=turn.max_tokens,
                hints=ask.hints if deployment.offline else None,
            )
            current.set_attribute("gen_ai.usage.input_tokens", reply.prompt_tokens)
            current.set_attribute("gen_ai.usage.output_tokens", reply.completion_tokens)
    return reply


def _attempt_timeout(turn: _Turn, endpoint: str) -> float:
    """The configured timeout, or more where the deployment's measured speed says this
    prompt and output limit take longer; with candidates waiting behind the deployment, at
    most its leash (its fair share of the time left)."""
    configured = turn.deployment.timeout_s or turn.services.options.attempt_timeout_s
    prompt = turn.prompt_tokens if turn.prompt_tokens is not None else tokens.rough(turn.messages)
    measured = turn.services.speeds.timeout_s(
        endpoint, prompt_tokens=prompt, max_tokens=turn.max_tokens, floor_s=configured
    )
    leash = turn.leash
    if leash is None or leash.retry_timeouts:  # the last candidate keeps its whole time
        return measured
    return min(measured, leash.timeout_s)  # its fair share, or a short leash after a timeout


async def _retry_after_failure(turn: _Turn, failure: ModelCallFailed) -> bool:
    """Record the failure; True when the same deployment should be asked again."""
    deployment, services = turn.deployment, turn.services
    status = f"HTTP {failure.status}: " if failure.status else ""
    turn.attempt(failure.kind, failure.latency_ms, error=status + failure.message[:2000])
    # Not the message: a provider may echo parts of the request in it.
    log.warning(
        "model attempt failed",
        model=deployment.model,
        failure=failure.kind,
        http_status=failure.status,
        latency_ms=round(failure.latency_ms, 2),
    )
    turn.run.failure = failure
    # A timeout cut short by the call's own deadline is the caller's budget running out,
    # not the deployment failing: the breaker does not count it.
    counts = failure.transient and not (failure.kind == "timeout" and turn.cut_by_deadline)
    if services.breakers is not None and counts:
        await services.breakers.record_failure(turn.key, failure.latency_ms)
    if failure.kind == "timeout":
        services.pace.timed_out(turn.key, services.clock.monotonic())
        if turn.leash is not None and not turn.leash.retry_timeouts:
            return False  # a fallback waits: waiting again here would spend its time
    retry = services.options.retry
    if not failure.transient or turn.retries >= retry.max_retries:
        return False
    pause = retry.delay(turn.retries, failure.retry_after_s)
    if services.clock.monotonic() + pause >= turn.ask.deadline:
        return False  # no time to wait here; a fallback may still answer in time
    await services.clock.sleep(pause)
    turn.retries, turn.kind = turn.retries + 1, "retry"
    return True


async def _after_reply(turn: _Turn, reply: ModelReply) -> None:
    """Tell the breaker and the rate limiter that the deployment answered."""
    services = turn.services
    services.pace.answered(turn.key, reply.latency_ms)
    if not turn.deployment.offline:
        services.speeds.record(
            endpoint_key(turn.deployment),
            reply.prompt_tokens,
            reply.completion_tokens,
            reply.latency_ms / 1000,
        )
    if services.breakers is not None:
        await services.breakers.record_success(turn.key, reply.latency_ms)
    if services.limiter is not None and turn.deployment.tpm:
        # acquire() already counted the estimate; add only the difference.
        used = reply.prompt_tokens + reply.completion_tokens
        await services.limiter.record_tokens(turn.key, used, reserved=turn.estimate)


def _reask_after_reply(turn: _Turn, reply: ModelReply) -> bool:
    """Judge and record the reply; True when the deployment should be re-asked."""
    if reply.truncated:
        return _ask_again_with_room(turn, reply)
    ask, deployment = turn.ask, turn.deployment
    turn.run.truncated_at = None
    strict = deployment.supports_response_schema and ask.strict
    verdict = ask.check(reply.text, strict, deployment.offline)
    # The very text it was told is wrong: at this temperature it will only say it again.
    repeated = not verdict.ok and reply.text.strip() in turn.rejected
    turn.attempt(
        "repeated" if repeated else verdict.stage,
        reply.latency_ms,
        reply=reply,
        issues=_issues(verdict.issues) if verdict.issues else None,
    )
    if verdict.ok:
        # The configured model string names it everywhere (log, usage, header), so one
        # deployment never shows under two names when a provider echoes another.
        turn.run.output, turn.run.model = verdict.value, deployment.model
        return False
    turn.run.invalid, turn.run.repeated = verdict, repeated
    turn.rejected.add(reply.text.strip())
    if repeated or turn.reasks >= turn.services.options.max_reasks:
        return False
    turn.reasks, turn.kind = turn.reasks + 1, "reask"
    turn.messages = ask.reask(reply.text, verdict)
    return True


def _ask_again_with_room(turn: _Turn, reply: ModelReply) -> bool:
    """Record a reply cut off at the output limit; True to ask once more with a larger one."""
    used = reply.completion_tokens
    turn.attempt(
        "truncated",
        reply.latency_ms,
        reply=reply,
        issues=[{"pointer": "", "message": f"cut off at the output limit ({used} tokens)"}],
    )
    turn.run.truncated_at, turn.run.invalid = used, None
    larger = _larger_limit(turn, used)
    if larger is None:
        return False
    turn.max_tokens, turn.widened, turn.kind = larger, True, "more_tokens"
    return True


def _larger_limit(turn: _Turn, used: int) -> int | None:
    """Twice the limit that cut the reply off, within the model's own output limit; None
    when the model allows no more (or the turn already asked for more once)."""
    current = max(turn.max_tokens or 0, used)
    if turn.widened or current <= 0:
        return None
    ceiling = turn.deployment.output_limit()
    larger = 2 * current if ceiling is None else min(2 * current, ceiling)
    return larger if larger > current else None


def _issues(issues: Sequence[Issue]) -> list[dict[str, str]] | None:
    return [_issue(i) for i in issues] or None


def _issue(issue: Issue) -> dict[str, str]:
    """An issue as the record keeps it, naming the check that found it, if one did."""
    kept = {"pointer": issue.pointer, "message": issue.message}
    if issue.check is not None:
        kept["check"] = issue.check
    return kept


def skip_same_deployment(record: ExecutionRecord, deployment: Deployment, asked: str) -> None:
    """Record a fallback passed over because the call already asked its deployment (under
    the alias `asked`): the same model at the same server answers the same way."""
    record.attempts.append(
        AttemptRecord(
            number=len(record.attempts) + 1,
            kind="skip",
            model=deployment.model,
            outcome="same_deployment",
            latency_ms=0.0,
            error=f"the same deployment as {asked}",
        )
    )
