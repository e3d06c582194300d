"""Counting a prompt's tokens before it is sent, to know whether it fits a context window.

Counting costs (litellm's tokenizer takes a few milliseconds for a long prompt, and seconds
to import), so it runs only when a cheap bound cannot settle the question: a byte-level
tokenizer never makes more tokens than the text has bytes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

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


def _count(model: str, messages: list[dict[str, Any]]) -> int:
    import litellm

    return int(litellm.token_counter(model=model, messages=messages))


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else json.dumps(content)
