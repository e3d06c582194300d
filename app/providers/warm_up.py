"""Getting the providers ready before the first call, without contacting any of them."""

from __future__ import annotations

import asyncio
import importlib
import threading

from app.providers import openai_http
from app.providers.catalog import ModelCatalog
from app.providers.litellm_provider import load_litellm


async def warm_up(catalog: ModelCatalog) -> None:
    """Get litellm ready before the first call that needs it, if any call can.

    The offline model answers in-process and needs nothing. A catalog whose deployments all
    take the plain HTTP path needs only its HTTP library, imported in a background thread.
    Otherwise litellm is imported (off the event loop) and its OpenAI-compatible path
    loaded now rather than during the first call, which would spend most of a second
    building clients, enough to trip a tight per-attempt timeout. The warm-up request goes
    to the discard port on loopback, which refuses at once, so no provider is ever contacted.
    """
    if catalog.offline:
        return
    deployments = [d for ds in catalog.deployments.values() for d in ds]
    if all(openai_http.eligible(d) for d in deployments):
        # The lean client's HTTP library, imported off the start-up path too; litellm as
        # well where a context window is known, for counting long prompts' tokens.
        threading.Thread(target=importlib.import_module, args=("aiohttp",), daemon=True).start()
        if any(d.context_window() is not None for d in deployments):
            threading.Thread(target=load_litellm, daemon=True).start()
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
