"""The one place that calls a model: `litellm.acompletion`, with failures classified.

OpenAI-compatible deployments litellm would only pass through take the lean path
(app/providers/openai_http.py) with the same semantics. litellm is imported on first use, not at
start-up: importing it takes seconds.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Literal

from app.providers.catalog import Deployment, ModelCatalog

FailureKind = Literal[
    "timeout", "rate_limited", "server_error", "connection_error", "bad_request", "auth_error"
]
TRANSIENT: frozenset[FailureKind] = frozenset(
    {"timeout", "rate_limited", "server_error", "connection_error"}
)


_load_lock = threading.Lock()


@cache
def load_litellm() -> ModuleType:
    """litellm, imported and configured once (seconds the first time; any thread)."""
    with _load_lock:
        return _configure()


def _configure() -> ModuleType:
    import litellm

    from app.providers.offline import register_offline_provider

    # litellm's own retries would hide attempts from the execution log; the runtime retries.
    litellm.num_retries = 0
    litellm.suppress_debug_info = True
    register_offline_provider()
    return litellm


@dataclass(frozen=True)
class ModelReply:
    """What a model answered, and what it cost."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float


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


async def call_model(
    deployment: Deployment,
    messages: list[dict[str, Any]],
    *,
    response_format: dict[str, Any] | None,
    timeout_s: float,
    temperature: float | None = None,
    max_tokens: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> ModelReply:
    """One completion from `deployment`; raises `ModelCallFailed` with a classified reason."""
    from app.providers import openai_http  # lean imports this module's types

    if openai_http.eligible(deployment):
        return await openai_http.complete(
            deployment,
            messages,
            response_format=response_format,
            timeout_s=timeout_s,
            temperature=temperature,
            max_tokens=max_tokens,
        )
    litellm = load_litellm()
    kwargs: dict[str, Any] = {
        "model": deployment.model,
        "messages": messages,
        "timeout": timeout_s,
        "num_retries": 0,
        "max_retries": 0,
    }
    if response_format is not None:
        kwargs["response_format"] = response_format
    if deployment.api_base:
        kwargs["api_base"] = deployment.api_base
    api_key = deployment.api_key()
    if api_key:
        kwargs["api_key"] = api_key
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if metadata is not None:
        kwargs["metadata"] = metadata
    started = time.perf_counter()
    try:
        # litellm's timeout covers the HTTP exchange; wait_for also bounds everything around it.
        response = await asyncio.wait_for(litellm.acompletion(**kwargs), timeout_s)
    except Exception as exc:
        raise _classify(exc, (time.perf_counter() - started) * 1000) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    choice = response.choices[0]
    text = choice.message.content or ""
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    return ModelReply(
        text=text,
        model=str(getattr(response, "model", None) or deployment.model),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_of(deployment, response, prompt_tokens, completion_tokens),
        latency_ms=latency_ms,
    )


def cost_of(
    deployment: Deployment, response: Any, prompt_tokens: int, completion_tokens: int
) -> float:
    """USD cost of one reply: the models file's prices, else litellm's bundled price map."""
    if deployment.offline:
        return 0.0
    if deployment.input_cost_per_token is not None or deployment.output_cost_per_token is not None:
        return prompt_tokens * (deployment.input_cost_per_token or 0.0) + completion_tokens * (
            deployment.output_cost_per_token or 0.0
        )
    try:
        cost = load_litellm().completion_cost(completion_response=response, model=deployment.model)
        return float(cost)
    except Exception:  # models missing from the bundled map have no known price
        return 0.0


def _classify(exc: BaseException, latency_ms: float) -> ModelCallFailed:
    from litellm.exceptions import (
        APIConnectionError,
        AuthenticationError,
        PermissionDeniedError,
        RateLimitError,
    )
    from litellm.exceptions import Timeout as LitellmTimeout

    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    message = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, LitellmTimeout)):
        return ModelCallFailed("timeout", "the model did not answer in time", latency_ms=latency_ms)
    if isinstance(exc, RateLimitError) or status == 429:
        return ModelCallFailed(
            "rate_limited",
            message,
            status=429,
            retry_after_s=_retry_after(exc),
            latency_ms=latency_ms,
        )
    if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
        return ModelCallFailed("auth_error", message, status=status, latency_ms=latency_ms)
    if isinstance(exc, APIConnectionError) and (status is None or status >= 500):
        return ModelCallFailed("connection_error", message, status=status, latency_ms=latency_ms)
    if status is not None and 400 <= status < 500 and status != 408:
        return ModelCallFailed("bad_request", message, status=status, latency_ms=latency_ms)
    return ModelCallFailed("server_error", message, status=status, latency_ms=latency_ms)


def _retry_after(exc: BaseException) -> float | None:
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


async def warm_up(catalog: ModelCatalog) -> None:
    """Get litellm ready before the first call that needs it, if any call can.

    The offline model always goes through litellm: it is imported in a background thread,
    so readiness does not wait for it. A catalog whose deployments all take the lean path
    needs nothing. Otherwise litellm is imported (off the event loop) and its
    OpenAI-compatible path loaded now rather than during the first call, which would spend
    most of a second building clients, enough to trip a tight per-attempt timeout. The
    warm-up request goes to the discard port on loopback, which refuses at once, so no
    provider is ever contacted.
    """
    from app.providers import openai_http

    if catalog.offline:
        threading.Thread(target=load_litellm, name="import-litellm", daemon=True).start()
        return
    if all(openai_http.eligible(d) for ds in catalog.deployments.values() for d in ds):
        # The lean client's HTTP library, imported off the start-up path too.
        threading.Thread(target=importlib.import_module, args=("aiohttp",), daemon=True).start()
        return
    litellm = await asyncio.to_thread(load_litellm)
    try:
        await litellm.acompletion(
            model="openai/warm-up",
            api_base="http://127.0.0.1:9/v1",
            api_key="warm-up",
            messages=[{"role": "user", "content": "warm-up"}],
            timeout=2,
            num_retries=0,
            max_retries=0,
        )
    except Exception:  # refused by design
        return
