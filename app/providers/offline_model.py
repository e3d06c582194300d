"""The built-in offline model as a provider: answered in-process, without any network.

Answers are deterministic (the same messages and schema give the same answer in every
process), always valid against the JSON Schema in `response_format`, free, and say plainly
that they come from the offline model (the `specloom-offline/` model name). See
`app.providers.offline_answer` for what it answers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from app.providers.base import ModelReply, ModelRequest
from app.providers.catalog import Deployment
from app.providers.offline_answer import count_tokens, offline_answer, text_of


class OfflineProvider:
    """The offline model, called directly (no litellm, no HTTP)."""

    async def complete(self, deployment: Deployment, request: ModelRequest) -> ModelReply:
        """The offline answer to `request`, priced at zero."""
        started = time.perf_counter()
        hints = (request.hints or {}).get("specloom")
        text = offline_answer(
            request.messages,
            request.response_format,
            hints if isinstance(hints, Mapping) else None,
        )
        prompt = sum(count_tokens(text_of(m.get("content"))) + 3 for m in request.messages)
        return ModelReply(
            text=text,
            model=deployment.model,
            prompt_tokens=prompt,
            completion_tokens=count_tokens(text),
            cost_usd=0.0,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
