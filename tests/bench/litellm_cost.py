"""litellm's own cost per call, and the lean path's: a plain httpx POST vs
`litellm.acompletion` vs `call_model` on the lean path (app/providers/openai_http.py), same fake
upstream, same process, interleaved.

    .venv/bin/python -m tests.bench.litellm_cost
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import httpx
import litellm

from app.providers import openai_http
from app.providers.catalog import Deployment
from app.providers.llm import call_model
from tests.fakes.upstream import running_upstream


async def measure(calls: int = 200, warmup: int = 20) -> dict[str, float]:
    """Median ms of each path, and of each path minus the direct POST of the same round."""
    messages = [{"role": "user", "content": "hi"}]
    timings: dict[str, list[float]] = {"direct": [], "litellm": [], "lean": []}
    os.environ["LITELLM_COST_BENCH_KEY"] = "k"
    with running_upstream() as fake:
        deployment = Deployment(
            alias="bench",
            model="openai/x",
            api_base=fake.base_url,
            api_key_env="LITELLM_COST_BENCH_KEY",
        )
        assert openai_http.eligible(deployment)
        async with httpx.AsyncClient() as http:
            for _ in range(calls + warmup):
                started = time.perf_counter()
                await http.post(
                    fake.base_url + "/chat/completions", json={"model": "x", "messages": messages}
                )
                timings["direct"].append(time.perf_counter() - started)
                started = time.perf_counter()
                await litellm.acompletion(
                    model="openai/x",
                    api_base=fake.base_url,
                    api_key="k",
                    messages=messages,
                    num_retries=0,
                    max_retries=0,
                )
                timings["litellm"].append(time.perf_counter() - started)
                started = time.perf_counter()
                await call_model(deployment, messages, response_format=None, timeout_s=30)
                timings["lean"].append(time.perf_counter() - started)
        await openai_http.close()
    kept = {k: v[warmup:] for k, v in timings.items()}
    result = {f"{k} p50 ms": statistics.median(v) * 1000 for k, v in kept.items()}
    for path in ("litellm", "lean"):
        added = [b - a for a, b in zip(kept["direct"], kept[path], strict=True)]
        result[f"{path} added ms"] = statistics.median(added) * 1000
    return result


def main() -> None:
    result = asyncio.run(measure())
    print("; ".join(f"{k} {v:.2f}" for k, v in result.items()))


if __name__ == "__main__":
    main()
