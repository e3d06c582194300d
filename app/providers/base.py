"""What every provider shares: the request, the reply, the classified failure, the protocol.

Three providers implement `Provider`: litellm (any provider it knows), the plain
OpenAI-compatible HTTP path (one pooled POST, for deployments litellm would only pass
through) and the built-in offline model (answered in-process, no network).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.providers.catalog import Deployment

FailureKind = Literal[
    "timeout", "rate_limited", "server_error", "connection_error", "bad_request", "auth_error"
]
TRANSIENT: frozenset[FailureKind] = frozenset(
    {"timeout", "rate_limited", "server_error", "connection_error"}
)


@dataclass(frozen=True)
class ModelReply:
    """What a model answered, and what it cost."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    # The provider said it stopped at the output limit: the text is cut off, whatever it
    # looks like, and must never be parsed or repaired into an answer.
    truncated: bool = False


# How providers say a reply hit the output limit: OpenAI-compatible `finish_reason`
# ("length"; some servers echo Anthropic's "max_tokens"), Anthropic's `stop_reason`.
TRUNCATED_REASONS = frozenset({"length", "max_tokens", "model_length"})


def is_truncated(*reasons: object) -> bool:
    """Whether any of a reply's stop reasons says the output limit cut it off."""
    return any(isinstance(r, str) and r.lower() in TRUNCATED_REASONS for r in reasons)


class ModelCallFailed(Exception):
    """A model call that gave no answer: why, and whether trying again may help."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.latency_ms = latency_ms

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT


@dataclass(slots=True)
class ModelRequest:
    """One chat completion to ask for: the same for every provider (built per attempt, so
    not frozen; nothing changes it once built)."""

    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None
    timeout_s: float
    temperature: float | None = None
    max_tokens: int | None = None
    # What the offline model may read of the spec (its examples); other providers ignore it.
    hints: dict[str, Any] | None = None


class Provider(Protocol):
    """A way to ask a deployment for one completion."""

    async def complete(self, deployment: Deployment, request: ModelRequest) -> ModelReply:
        """The deployment's reply; raises `ModelCallFailed` with a classified reason."""
        ...
