"""litellm's bundled price map, read as data: prices without importing litellm.

Importing litellm costs seconds, so the lean path (app/providers/openai_http.py) prices replies from
the same JSON file litellm itself reads when `LITELLM_LOCAL_MODEL_COST_MAP=True`. Only
models whose price is plain per-token (with an optional cached-input rate) are priced here;
`plain_price` returns None for anything else (tiered, per-second, reasoning models…) and
the caller leaves those to litellm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

MAP_FILE = "model_prices_and_context_window_backup.json"


@dataclass(frozen=True)
class PlainPrice:
    """USD per token: input, cached input (reads), output."""

    input: float
    cached_input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """What litellm's `completion_cost` charges for these counts."""
        cached = min(max(cached_tokens, 0), prompt_tokens)
        return (
            (prompt_tokens - cached) * self.input
            + cached * self.cached_input
            + completion_tokens * self.output
        )


@cache
def price_map() -> dict[str, dict[str, Any]]:
    """The bundled map (read once per process), without importing litellm."""
    spec = find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / MAP_FILE
    loaded: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# Keys of a map entry that the plain formula accounts for; any other "*cost*" key (audio,
# images, tiers above N tokens, per-second…) may change litellm's answer, but keys for
# service tiers the lean path never requests (batches, priority, flex) and per-query search
# prices (no tools are sent) cannot.
_PLAIN = {"input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost"}
_UNUSED_SUFFIXES = ("_batches", "_priority", "_flex", "_decisions", "_ultrafast")
_UNUSED = {"search_context_cost_per_query"}


def entry_for(model: str) -> dict[str, Any] | None:
    """The map entry litellm uses for an `openai/<name>` model: `<name>` as an OpenAI model."""
    name = model.removeprefix("openai/")
    entry = price_map().get(name)
    return entry if isinstance(entry, dict) else None


@cache
def output_limit(model: str) -> int | None:
    """The most output tokens the map says `model` may produce, or None when unknown."""
    table = price_map()
    entry = table.get(model) or table.get(model.partition("/")[2])
    limit = entry.get("max_output_tokens") if isinstance(entry, dict) else None
    return limit if isinstance(limit, int) and limit > 0 else None


@cache
def input_limit(model: str) -> int | None:
    """The most prompt tokens the map says `model` takes (its context window), or None."""
    table = price_map()
    entry = table.get(model) or table.get(model.partition("/")[2])
    limit = entry.get("max_input_tokens") if isinstance(entry, dict) else None
    return limit if isinstance(limit, int) and limit > 0 else None


FREE = PlainPrice(0.0, 0.0, 0.0)


@cache  # the map is fixed for the process; every lean reply asks
def plain_price(model: str) -> PlainPrice | None:
    """The plain price of an `openai/<name>` model, or None when litellm must price it.

    A model the map does not know is free: litellm's `completion_cost` raises for it and
    the runtime counts that as 0.
    """
    entry = entry_for(model)
    if entry is None:
        return None if "openai/" + model.removeprefix("openai/") in price_map() else FREE
    if entry.get("litellm_provider") != "openai" or entry.get("mode") != "chat":
        return None
    if entry.get("supports_reasoning"):
        return None
    for key in entry:
        if "cost" not in key or key in _PLAIN or key in _UNUSED or key.endswith(_UNUSED_SUFFIXES):
            continue
        return None
    try:
        input_cost = float(entry["input_cost_per_token"])
        output_cost = float(entry["output_cost_per_token"])
        cached = float(entry.get("cache_read_input_token_cost", input_cost))
    except (KeyError, TypeError, ValueError):
        return None
    return PlainPrice(input_cost, cached, output_cost)
