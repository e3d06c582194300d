"""Counting a prompt's tokens before it is sent, to know whether it fits a context window.

Counting costs (litellm's tokenizer takes a few milliseconds for a long prompt, and seconds
to import), so it runs only when a cheap bound cannot settle the question: a byte-level
tokenizer never makes more tokens than the text has bytes. A local server that counts with
the model's own tokenizer (llama.cpp's and vLLM's `POST /tokenize`) is asked first: litellm
knows no tokenizer for most local models and counts with OpenAI's.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.providers.catalog import Deployment

# Chat templates add a few tokens around every message.
PER_MESSAGE = 4


def upper_bound(messages: list[dict[str, Any]]) -> int:
    """At least as many tokens as any byte-level tokenizer makes of `messages`."""
    return sum(len(_text(m).encode("utf-8")) + PER_MESSAGE for m in messages)


def rough(messages: list[dict[str, Any]]) -> int:
    """A quick estimate (about four characters a token) for planning, not for limits."""
    return sum(len(_text(m)) // 4 + PER_MESSAGE for m in messages)


async def count(model: str, messages: list[dict[str, Any]]) -> int:
    """The prompt's tokens by litellm's counter for `model` (its tokenizer where litellm
    knows one, OpenAI's otherwise), off the event loop: a long prompt takes milliseconds,
    and the first count imports litellm (seconds, unless `warm_up` did it)."""
    return await asyncio.to_thread(_count, model, messages)


@dataclass
class ServerCounts:
    """Prompt token counts by the deployment's own server, where it has a tokenizer endpoint.

    A server without one (404, not JSON, no count) is remembered and not asked again; one
    that could not be reached is asked again next time.
    """

    timeout_s: float = 2.0
    _without: set[str] = field(default_factory=set)

    async def count(self, deployment: Deployment, messages: list[dict[str, Any]]) -> int | None:
        """The prompt's tokens as `deployment`'s server counts them (None: it cannot)."""
        root = deployment.server_root
        if root is None or deployment.offline or root in self._without:
            return None
        text = "\n".join(_text(m) for m in messages)
        body = {
            "content": text,  # llama.cpp
            "prompt": text,  # vLLM
            "model": deployment.served_name,
            "add_special": True,
        }
        headers = {"Authorization": f"Bearer {deployment.api_key() or 'no-key'}"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, headers=headers) as http:
                response = await http.post(f"{root}/tokenize", json=body)
        except httpx.HTTPError:
            return None
        tokens = _tokens(response)
        if tokens is None:
            self._without.add(root)
            return None
        return tokens + PER_MESSAGE * len(messages)


def _tokens(response: httpx.Response) -> int | None:
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("count"), int):
        return int(body["count"])
    listed = body.get("tokens")
    return len(listed) if isinstance(listed, list) else None


def _count(model: str, messages: list[dict[str, Any]]) -> int:
    import litellm

    return int(litellm.token_counter(model=model, messages=messages))


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else json.dumps(content)
