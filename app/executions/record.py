"""The execution record: one call of an agent and every model attempt it made.

A record is started when a call begins and finished when it ends, both here, whatever the
caller (`/v1`, MCP, jobs, the playground, test runs, the judge, the case writer).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

ExecutionStatus = Literal["succeeded", "failed"]
# Who called: the typed endpoint, an MCP tool, a job item (production traffic), the web
# playground, a test run, the LLM judge grading a test, the writer of rule-based cases, a
# candidate version run beside live on a call already answered (a shadow), or a model matrix
# trying the suite on one model.
Source = Literal[
    "api", "mcp", "job", "playground", "test", "judge", "case-writer", "shadow", "matrix"
]
SOURCES: tuple[Source, ...] = (
    "api", "mcp", "job", "playground", "test", "judge", "case-writer", "shadow", "matrix"
)  # fmt: skip
# What logs, usage, charts and metrics count unless asked for other sources.
PRODUCTION: tuple[Source, ...] = ("api", "mcp", "job")
CacheResult = Literal["hit", "miss"]
# Why the model that answered was asked when the spec did not name it: `auto` is the
# version's model matrix's choice.
ModelChoice = Literal["auto"]
# ask: the first call; retry: the same model after a transient failure; reask: the same
# model told why its output was invalid; fallback: the next model of the tier; escalation:
# a stronger model after invalid answers; more_tokens: the same model asked again with a
# larger output limit after its reply was cut off; skip: a model passed over without a call;
# hedge: the next model asked in parallel while a slow one still had not answered.
AttemptKind = Literal[
    "ask", "retry", "reask", "more_tokens", "fallback", "escalation", "skip", "hedge"
]
# How an attempt ended: its output's stage, why the call failed, or why it was skipped.
AttemptOutcome = Literal[
    "valid",
    "repaired",
    "unparseable",
    "schema_invalid",
    "check_failed",  # schema-valid, but it failed one of the spec's checks (named in issues)
    "truncated",  # stopped at the output limit: never parsed
    "repeated",  # a re-ask answered with the very text it had rejected: the model stops there
    "timeout",
    "rate_limited",
    "server_error",
    "connection_error",
    "bad_request",
    "auth_error",
    "breaker_open",
    "no_vision",
    "rate_limited_local",
    "cancelled",  # a parallel (hedged) attempt answered first
    "same_deployment",  # a fallback served by a deployment the call has already asked
    "context_too_small",  # the prompt cannot fit the model's context window
    "queue_timeout",  # the deadline passed while waiting for a free slot of the deployment
]
# Schema-valid but failing one of the spec's declared checks: counted by rollouts' guards,
# shadows and model matrices, which read outcomes rather than run checks.
CHECK_FAILED: AttemptOutcome = "check_failed"


@dataclass
class AttemptRecord:
    """One model call within an execution."""

    number: int
    kind: AttemptKind
    model: str
    outcome: AttemptOutcome
    latency_ms: float
    raw_text: str | None = None
    issues: list[dict[str, str]] | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Arm:
    """Which release answered a call: the label the caller chose (None: production), the
    rollout whose arm served it, or the shadow it ran for and the live execution it shadowed."""

    label: str | None = None
    rollout_id: uuid.UUID | None = None
    shadow_id: uuid.UUID | None = None
    shadow_of: uuid.UUID | None = None


@dataclass
class ExecutionRecord:
    """One call of an agent, as it will be stored."""

    id: uuid.UUID
    agent: str
    version: int | None
    input: dict[str, Any]
    created_at: datetime
    request_id: str | None
    source: Source = "api"
    status: ExecutionStatus = "failed"
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cache: CacheResult = "miss"
    model: str | None = None
    model_choice: ModelChoice | None = None
    offline: bool = False
    latency_ms: float = 0.0
    attempts: list[AttemptRecord] = field(default_factory=list)
    api_key_id: uuid.UUID | None = None  # the calling key; None for the bootstrap admin key
    arm: Arm = field(default_factory=Arm)

    @property
    def prompt_tokens(self) -> int:
        return sum(a.prompt_tokens for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(a.completion_tokens for a in self.attempts)

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    def answer_issues(self) -> list[dict[str, str]]:
        """The issues recorded on the attempt whose answer was returned (the checks it
        failed that only warn); empty when no attempt answered."""
        for attempt in reversed(self.attempts):
            if attempt.outcome in ("valid", "repaired"):
                return attempt.issues or []
        return []

    def rows(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The execution row and its attempt rows, as the store's JSON carries them."""
        execution = {
            "id": self.id,
            "agent": self.agent,
            "version": self.version,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cache": self.cache,
            "model": self.model,
            "model_choice": self.model_choice,
            "offline": self.offline,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": str(usd(self.cost_usd)),
            "request_id": self.request_id,
            "source": self.source,
            "api_key_id": self.api_key_id,
            "created_at": self.created_at,
            "label": self.arm.label,
            "rollout_id": self.arm.rollout_id,
            "shadow_id": self.arm.shadow_id,
            "shadow_of": self.arm.shadow_of,
        }
        attempts = [
            {
                "id": uuid.uuid4(),
                "execution_id": self.id,
                "number": a.number,
                "kind": a.kind,
                "model": a.model,
                "outcome": a.outcome,
                "raw_text": a.raw_text,
                "issues": a.issues,
                "error": a.error,
                "latency_ms": a.latency_ms,
                "prompt_tokens": a.prompt_tokens,
                "completion_tokens": a.completion_tokens,
                "cost_usd": str(usd(a.cost_usd)),
                # The execution's time: an attempt lives in its execution's month.
                "created_at": self.created_at,
            }
            for a in self.attempts
        ]
        return execution, attempts


def usd(value: float) -> Decimal:
    """A cost as the columns keep it: a decimal rounded to 8 places."""
    return Decimal(str(round(value, 8)))


def start_record(
    agent: str,
    version: int | None,
    payload: Any,
    *,
    request_id: str | None,
    source: Source,
    api_key_id: uuid.UUID | None = None,
    execution_id: uuid.UUID | None = None,
) -> ExecutionRecord:
    """The record of a call starting now (a non-object input is kept under `_raw`), with a
    new id unless the caller gives one."""
    return ExecutionRecord(
        id=execution_id or uuid.uuid4(),
        agent=agent,
        version=version,
        input=payload if isinstance(payload, dict) else {"_raw": payload},
        created_at=datetime.now(UTC),
        request_id=request_id,
        source=source,
        api_key_id=api_key_id,
    )


def finish_record(
    record: ExecutionRecord,
    *,
    output: dict[str, Any] | None,
    error: dict[str, Any] | None,
    latency_ms: float,
) -> ExecutionRecord:
    """Give the record its outcome: succeeded with `output`, or failed with `error`."""
    record.latency_ms = latency_ms
    if error is not None:
        record.status, record.error, record.output = "failed", error, None
    else:
        record.status, record.output = "succeeded", output
    return record
