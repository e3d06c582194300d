"""The lean path: OpenAI-compatible chat completions as one pooled aiohttp POST.

litellm spends milliseconds per call on things a plain OpenAI-compatible call does not
need (building its logging object, the OpenAI SDK client, response conversion, cost
lookups that raise for unknown models); importing it takes seconds. For deployments where
litellm does nothing but pass the request through — `openai/<model>` with an `api_base`
and a key, a model litellm does not rewrite parameters for, priced plainly in its map —
this module sends the same body, reads the same fields and raises the same
`ModelCallFailed` kinds as the litellm provider does
(tests/providers/test_lean_path.py runs both paths on the same cases). Everything else goes
through litellm.
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import cache
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from app.core import fastjson
from app.providers.base import ModelCallFailed, ModelReply, ModelRequest, is_truncated
from app.providers.catalog import Deployment
from app.providers.pricing import plain_price

if TYPE_CHECKING:
    import aiohttp

# aiohttp is imported on first use (or by `llm.warm_up` in a thread), not at start-up.

# Names litellm rewrites parameters for (max_tokens → max_completion_tokens, temperature
# dropped…) even when its price map does not know them: those keep going through litellm.
_REWRITTEN = ("o1", "o3", "o4", "gpt-5")

_sessions: WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = WeakKeyDictionary()


@cache
def eligible(deployment: Deployment) -> bool:
    """Whether litellm would only pass this deployment's calls through unchanged."""
    if not deployment.lean or deployment.offline or not deployment.model.startswith("openai/"):
        return False
    if not deployment.api_base or not deployment.api_key_env:
        return False
    name = deployment.model.removeprefix("openai/")
    if not name or name.startswith(_REWRITTEN) or "gpt-5" in name or "/" in name:
        return False
    prices_given = (
        deployment.input_cost_per_token is not None or deployment.output_cost_per_token is not None
    )
    return prices_given or plain_price(deployment.model) is not None


def session() -> aiohttp.ClientSession:
    """This event loop's pooled client (connections kept alive across calls)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    client = _sessions.get(loop)
    if client is None or client.closed:
        client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
            # Like the OpenAI SDK litellm uses: no proxy or netrc from the environment.
            trust_env=False,
        )
        _sessions[loop] = client
    return client


async def close() -> None:
    """Close this event loop's client (at shutdown)."""
    client = _sessions.pop(asyncio.get_running_loop(), None)
    if client is not None and not client.closed:
        await client.close()


def request_body(
    deployment: Deployment,
    messages: list[dict[str, Any]],
    *,
    response_format: dict[str, Any] | None,
    temperature: float | None,
    max_tokens: int | None,
) -> dict[str, Any]:
    """The JSON body litellm sends for these arguments."""
    body: dict[str, Any] = {
        "messages": messages,
        "model": deployment.model.removeprefix("openai/"),
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if response_format is not None:
        body["response_format"] = response_format
    if temperature is not None:
        body["temperature"] = temperature
    return body


async def post_chat(
    deployment: Deployment, body: dict[str, Any], timeout_s: float
) -> tuple[int, dict[str, str], bytes]:
    """POST `body` to the deployment's `/chat/completions`: status, headers, raw body."""
    import aiohttp

    url = deployment.api_base.rstrip("/") + "/chat/completions"  # type: ignore[union-attr]
    headers = {
        "Authorization": f"Bearer {deployment.api_key() or ''}",
        "Content-Type": "application/json",
    }
    async with session().post(
        url, data=fastjson.dumps(body), headers=headers, timeout=aiohttp.ClientTimeout(timeout_s)
    ) as response:
        raw = await response.read()
        return response.status, dict(response.headers), raw


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class OpenAIHTTPProvider:
    """OpenAI-compatible chat completions as one pooled POST (see the module docstring)."""

    async def complete(self, deployment: Deployment, request: ModelRequest) -> ModelReply:
        """One completion over the plain HTTP path; the same reply or failure litellm would
        give."""
        import aiohttp

        body = request_body(
            deployment,
            request.messages,
            response_format=request.response_format,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
        )
        timeout_s = request.timeout_s
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):  # no task of its own, unlike wait_for
                status, headers, raw = await post_chat(deployment, body, timeout_s)
        except TimeoutError:
            raise ModelCallFailed(
                "timeout", "the model did not answer in time", latency_ms=elapsed_ms(started)
            ) from None
        except aiohttp.ClientError as exc:
            # litellm reports a refused or dropped connection as an InternalServerError (500).
            raise ModelCallFailed(
                "server_error",
                f"OpenAIException - Connection error. ({type(exc).__name__})",
                status=500,
                latency_ms=elapsed_ms(started),
            ) from exc
        latency_ms = elapsed_ms(started)
        if status != 200:
            raise http_failure(status, headers, raw, latency_ms)
        return reply_of(deployment, raw, latency_ms)


def http_failure(
    status: int, headers: dict[str, str], raw: bytes, latency_ms: float
) -> ModelCallFailed:
    """The failure litellm's exception for this HTTP status is classified as."""
    message = "OpenAIException - " + _error_message(raw)
    if status in (408, 504):  # litellm raises its Timeout for both
        return ModelCallFailed("timeout", "the model did not answer in time", latency_ms=latency_ms)
    if status == 429:
        return ModelCallFailed(
            "rate_limited",
            message,
            status=429,
            retry_after_s=_retry_after(headers),
            latency_ms=latency_ms,
        )
    if status == 401:
        return ModelCallFailed("auth_error", message, status=status, latency_ms=latency_ms)
    if 400 <= status < 500:  # litellm maps 403 to a plain APIError: a rejected request too
        return ModelCallFailed("bad_request", message, status=status, latency_ms=latency_ms)
    return ModelCallFailed("server_error", message, status=status, latency_ms=latency_ms)


def reply_of(deployment: Deployment, raw: bytes, latency_ms: float) -> ModelReply:
    """The reply in a 200 body, priced as litellm prices it."""
    try:
        data = json.loads(raw)
        choices = data["choices"]
        if not isinstance(choices, list) or not choices:
            raise ValueError("'choices' is not a non-empty list")
        choice = choices[0]
        text = choice["message"].get("content") or ""
        if not isinstance(text, str):
            raise ValueError("'content' is not a string")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # litellm turns a malformed 200 into an InternalServerError (500).
        raise ModelCallFailed(
            "server_error",
            f"OpenAIException - the provider's reply is not a chat completion: {exc}",
            status=500,
            latency_ms=latency_ms,
        ) from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details")
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    return ModelReply(
        text=text,
        model=str(data.get("model") or deployment.model),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=_cost(deployment, prompt_tokens, completion_tokens, cached),
        latency_ms=latency_ms,
        truncated=is_truncated(choice.get("finish_reason"), choice.get("stop_reason")),
    )


def _cost(deployment: Deployment, prompt_tokens: int, completion_tokens: int, cached: int) -> float:
    # The models file's prices win, as in llm.cost_of; else litellm's map.
    if deployment.input_cost_per_token is not None or deployment.output_cost_per_token is not None:
        return prompt_tokens * (deployment.input_cost_per_token or 0.0) + completion_tokens * (
            deployment.output_cost_per_token or 0.0
        )
    price = plain_price(deployment.model)
    return price.cost(prompt_tokens, completion_tokens, cached) if price is not None else 0.0


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data
    except (ValueError, KeyError, TypeError, AttributeError):
        message = raw.decode("utf-8", "replace")
    return str(message)[:2000]


def _retry_after(headers: dict[str, str]) -> float | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    value = lowered.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
