"""The litellm provider: any provider litellm knows, its exceptions classified.

litellm is imported on first use, not at start-up: importing it takes seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from functools import cache
from types import ModuleType
from typing import Any

from app.providers.base import ModelCallFailed, ModelReply, ModelRequest, is_truncated
from app.providers.catalog import Deployment

_load_lock = threading.Lock()


@cache
def load_litellm() -> ModuleType:
    """litellm, imported and configured once (seconds the first time; any thread)."""
    with _load_lock:
        return _configure()


def _configure() -> ModuleType:
    import litellm

    # litellm's own retries would hide attempts from the execution log; routing retries.
    litellm.num_retries = 0
    litellm.suppress_debug_info = True
    return litellm


class LitellmProvider:
    """Any provider litellm knows, called through `litellm.acompletion`."""

    async def complete(self, deployment: Deployment, request: ModelRequest) -> ModelReply:
        """One completion through litellm; its exceptions classified."""
        return await _complete(load_litellm(), deployment, request)


def _arguments(deployment: Deployment, request: ModelRequest) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": deployment.model,
        "messages": request.messages,
        "timeout": request.timeout_s,
        "num_retries": 0,
        "max_retries": 0,
    }
    optional = {
        "response_format": request.response_format,
        "api_base": deployment.api_base,
        # A local server (llama.cpp, vLLM, LM Studio, Ollama) takes no key, but the OpenAI
        # client refuses to send a request without one.
        "api_key": deployment.api_key() or ("no-key" if deployment.api_base else None),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None and v != ""})
    return kwargs


async def _complete(
    litellm: ModuleType, deployment: Deployment, request: ModelRequest
) -> ModelReply:
    kwargs = _arguments(deployment, request)
    timeout_s = request.timeout_s
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
        # litellm maps each provider's stop reason (Anthropic's stop_reason: max_tokens
        # included) onto finish_reason "length".
        truncated=is_truncated(getattr(choice, "finish_reason", None)),
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
