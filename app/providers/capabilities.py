"""What a local model server says about itself: asked once at start-up (in the background),
and on demand (`specloom models check`, `POST /api/models/check`).

llama.cpp's server answers `GET /props` with its context size (it also turns a
`response_format` JSON Schema into a grammar); every OpenAI-compatible server lists its
models at `GET /v1/models`. Nothing here is sent on the request path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from app.providers.catalog import Deployment


@dataclass(frozen=True)
class Capabilities:
    """The facts a deployment's server gave (None: it did not say)."""

    reachable: bool
    models: list[str] = field(default_factory=list)
    context_window: int | None = None
    server: str | None = None  # "llama.cpp" when it answers /props
    grammar: bool | None = None  # takes response_format json_schema as a grammar
    error: str | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class CapabilityBook:
    """The facts each deployment with a server of its own gave when last asked."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], Capabilities] = {}

    def get(self, deployment: Deployment) -> Capabilities | None:
        """What `deployment`'s server said when last asked (None: never asked)."""
        return self._found.get(_key(deployment))

    async def check(self, deployments: Iterable[Deployment], *, timeout_s: float = 3.0) -> None:
        """Ask every deployment that has a server of its own, all at once."""
        targets = {_key(d): d for d in deployments if d.api_base and not d.offline}
        found = await asyncio.gather(*(detect(d, timeout_s=timeout_s) for d in targets.values()))
        self._found.update(zip(targets, found, strict=True))


def _key(deployment: Deployment) -> tuple[str, str]:
    return deployment.model, deployment.api_base or ""


async def detect(deployment: Deployment, *, timeout_s: float = 5.0) -> Capabilities:
    """Ask `deployment`'s server for its models and, where it is llama.cpp, its context."""
    if not deployment.api_base:
        return Capabilities(reachable=False, error="no api_base: a hosted provider")
    base = deployment.api_base.rstrip("/")
    root = base.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {deployment.api_key() or 'no-key'}"}
    async with httpx.AsyncClient(timeout=timeout_s, headers=headers) as http:
        try:
            listed = await http.get(f"{base}/models")
        except httpx.HTTPError as exc:
            return Capabilities(reachable=False, error=f"{type(exc).__name__}: {exc}")
        models = _model_ids(_json(listed)) if listed.status_code == 200 else []
        props = await _props(http, root)
    if props is None:
        return Capabilities(reachable=True, models=models)
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    return Capabilities(
        reachable=True,
        models=models,
        context_window=n_ctx if isinstance(n_ctx, int) else None,
        server="llama.cpp",
        grammar=True,
    )


async def _props(http: httpx.AsyncClient, root: str) -> dict[str, Any] | None:
    try:
        response = await http.get(f"{root}/props")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body = _json(response)
    return body if isinstance(body, dict) else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # a server that is not what the models file says it is
        return None


def _model_ids(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


def describe(deployment: Deployment, found: Capabilities) -> str:
    """One line for the command line: what the server said, and where it disagrees with
    the models file."""
    name = f"{deployment.alias} ({deployment.model} at {deployment.api_base})"
    if not found.reachable:
        return f"{name}: not checked: {found.error}"
    facts = [f"serves {', '.join(found.models) or 'no listed model'}"]
    if found.server:
        facts.append(f"{found.server}, context {found.context_window}, json_schema as grammar")
    configured = deployment.max_input_tokens
    if found.context_window and configured and configured > found.context_window:
        facts.append(
            f"WARNING: max_input_tokens {configured} > the server's {found.context_window}"
        )
    if found.grammar and not deployment.supports_response_schema:
        facts.append("WARNING: supports_response_schema is false; the server takes the schema")
    return f"{name}: " + "; ".join(facts)
