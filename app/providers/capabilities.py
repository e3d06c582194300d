"""What a local model server says about itself: asked once at start-up (in the background),
and on demand (`specloom models check`, `POST /api/models/check`).

Every OpenAI-compatible server lists its models at `GET /v1/models`; each local server says
its context window in its own way:
- vLLM: `max_model_len` on each model of that list;
- llama.cpp's server: `GET /props` (`n_ctx`);
- Ollama: `GET /api/ps` (the context a loaded model runs with) and `POST /api/show` (a
  Modelfile's `num_ctx`, and the model's own maximum);
- LM Studio: `GET /api/v0/models` (`loaded_context_length`, `max_context_length`).
All four turn a `response_format` JSON Schema into a grammar. Nothing here is sent on the
request path.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from app.providers.catalog import Deployment

# Ollama sizes a model's context by the machine's memory (2048-4096 tokens on small ones)
# unless a Modelfile or OLLAMA_CONTEXT_LENGTH says otherwise, and cuts longer prompts
# silently: a window it did not state is worth a warning.
_OLLAMA_UNSTATED = (
    "Ollama did not say its context for this model (not loaded, no num_ctx): it runs it "
    "with its default (2048-4096 tokens) unless OLLAMA_CONTEXT_LENGTH is set, and cuts "
    "longer prompts silently; set max_input_tokens to what it runs with"
)
_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Capabilities:
    """The facts a deployment's server gave (None: it did not say)."""

    reachable: bool
    models: list[str] = field(default_factory=list)
    context_window: int | None = None  # what the server runs the model with
    model_context: int | None = None  # the model's own maximum, where the server says it
    server: str | None = None  # "llama.cpp", "vLLM", "Ollama" or "LM Studio"
    grammar: bool | None = None  # takes response_format json_schema as a grammar
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # where the models file disagrees
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class _Server:
    """What one kind of server said about the deployment's model."""

    name: str
    context_window: int | None = None
    model_context: int | None = None
    notes: tuple[str, ...] = ()


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
    """Ask `deployment`'s server for its models and, where it says, its context window."""
    if not deployment.api_base:
        return Capabilities(reachable=False, error="no api_base: a hosted provider")
    base = deployment.api_base.rstrip("/")
    root = deployment.server_root or base
    headers = {"Authorization": f"Bearer {deployment.api_key() or 'no-key'}"}
    async with httpx.AsyncClient(timeout=timeout_s, headers=headers) as http:
        try:
            listed = await http.get(f"{base}/models")
        except httpx.HTTPError as exc:
            return Capabilities(reachable=False, error=f"{type(exc).__name__}: {exc}")
        cards = _cards(_json(listed)) if listed.status_code == 200 else []
        server = await _which_server(http, root, deployment.served_name, cards)
    models = [str(card["id"]) for card in cards]
    if server is None:
        return Capabilities(reachable=True, models=models)
    found = Capabilities(
        reachable=True,
        models=models,
        context_window=server.context_window,
        model_context=server.model_context,
        server=server.name,
        grammar=True,
    )
    return replace(found, warnings=[*server.notes, *_warnings(deployment, found)])


async def _which_server(
    http: httpx.AsyncClient, root: str, served: str, cards: list[dict[str, Any]]
) -> _Server | None:
    card = _card(cards, served)
    if card is not None and isinstance(card.get("max_model_len"), int):
        return _Server("vLLM", context_window=card["max_model_len"])
    props = await _get(http, f"{root}/props")
    if isinstance(props, dict):
        settings = props.get("default_generation_settings") or {}
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        return _Server("llama.cpp", context_window=n_ctx if isinstance(n_ctx, int) else None)
    if isinstance(await _get(http, f"{root}/api/version"), dict):
        return await _ollama(http, root, served)
    studio = await _get(http, f"{root}/api/v0/models")
    if isinstance(studio, dict):
        return _lm_studio(_card(_cards(studio), served))
    return None


async def _ollama(http: httpx.AsyncClient, root: str, served: str) -> _Server:
    running = await _get(http, f"{root}/api/ps")
    listed = running.get("models") if isinstance(running, dict) else None
    loaded = _card([m for m in listed or [] if isinstance(m, dict)], served, key="name")
    shown = await _post(http, f"{root}/api/show", {"model": served})
    parameters = str(shown.get("parameters") or "") if isinstance(shown, dict) else ""
    info = shown.get("model_info") if isinstance(shown, dict) else None
    trained = next(
        (
            value
            for name, value in (info.items() if isinstance(info, dict) else ())
            if name.endswith(".context_length") and isinstance(value, int)
        ),
        None,
    )
    window = loaded.get("context_length") if loaded else None
    if not isinstance(window, int):
        num_ctx = _NUM_CTX.search(parameters)
        window = int(num_ctx.group(1)) if num_ctx else None
    return _Server(
        "Ollama",
        context_window=window,
        model_context=trained,
        notes=() if window else (_OLLAMA_UNSTATED,),
    )


def _lm_studio(card: dict[str, Any] | None) -> _Server:
    if card is None:
        return _Server("LM Studio")
    loaded, most = card.get("loaded_context_length"), card.get("max_context_length")
    return _Server(
        "LM Studio",
        context_window=loaded if isinstance(loaded, int) else None,
        model_context=most if isinstance(most, int) else None,
    )


def _warnings(deployment: Deployment, found: Capabilities) -> list[str]:
    """Where the models file disagrees with what the server said."""
    notes = []
    configured = deployment.max_input_tokens
    if found.context_window and configured and configured > found.context_window:
        notes.append(f"max_input_tokens {configured} > the server's {found.context_window}")
    if found.grammar and not deployment.supports_response_schema:
        notes.append(
            "supports_response_schema is false: the models file sends JSON mode, but the "
            "server turns a schema into a grammar (set supports_response_schema: true)"
        )
    return notes


async def _get(http: httpx.AsyncClient, url: str) -> Any:
    """The JSON a server answers at `url`, or None (an error, or not JSON)."""
    try:
        response = await http.get(url)
    except httpx.HTTPError:
        return None
    return _json(response) if response.status_code == 200 else None


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
    try:
        response = await http.post(url, json=body)
    except httpx.HTTPError:
        return None
    return _json(response) if response.status_code == 200 else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # a server that is not what the models file says it is
        return None


def _cards(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [m for m in data if isinstance(m, dict) and "id" in m]


def _card(cards: list[dict[str, Any]], served: str, *, key: str = "id") -> dict[str, Any] | None:
    """The entry naming the deployment's model; the only one when the server serves one."""
    named = [c for c in cards if str(c.get(key)) == served]
    if named:
        return named[0]
    return cards[0] if len(cards) == 1 else None


def describe(deployment: Deployment, found: Capabilities) -> str:
    """One line for the command line: what the server said, and where it disagrees with
    the models file."""
    name = f"{deployment.alias} ({deployment.model} at {deployment.api_base})"
    if not found.reachable:
        return f"{name}: not checked: {found.error}"
    facts = [f"serves {', '.join(found.models) or 'no listed model'}"]
    if found.server:
        context = found.context_window or "not stated"
        facts.append(f"{found.server}, context {context}, json_schema as grammar")
    facts += [f"WARNING: {warning}" for warning in found.warnings]
    return f"{name}: " + "; ".join(facts)
