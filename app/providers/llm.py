"""Calling a model: the provider that serves a deployment, and one completion from it.

The offline model answers in-process; OpenAI-compatible deployments litellm would only
pass through take the plain HTTP path (app/providers/openai_http.py) with the same
semantics; everything else goes through litellm.
"""

from __future__ import annotations

from typing import Any

from app.providers import openai_http
from app.providers.base import ModelReply, ModelRequest, Provider
from app.providers.catalog import Deployment
from app.providers.litellm_provider import LitellmProvider
from app.providers.offline_model import OfflineProvider

_OFFLINE, _PLAIN, _LITELLM = OfflineProvider(), openai_http.OpenAIHTTPProvider(), LitellmProvider()


def provider_for(deployment: Deployment) -> Provider:
    """The provider that serves `deployment`."""
    if deployment.offline:
        return _OFFLINE
    if openai_http.eligible(deployment):
        return _PLAIN
    return _LITELLM


async def call_model(
    deployment: Deployment,
    messages: list[dict[str, Any]],
    *,
    response_format: dict[str, Any] | None,
    timeout_s: float,
    temperature: float | None = None,
    max_tokens: int | None = None,
    hints: dict[str, Any] | None = None,
) -> ModelReply:
    """One completion from `deployment`; raises `ModelCallFailed` with a classified reason."""
    request = ModelRequest(
        messages,
        response_format,
        timeout_s,
        temperature=temperature,
        max_tokens=max_tokens,
        hints=hints,
    )
    return await provider_for(deployment).complete(deployment, request)
