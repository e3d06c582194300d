"""litellm's own cost per call: a plain httpx POST vs `litellm.acompletion`, same fake upstream,
same process, interleaved.

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

from tests.fakes.upstream import running_upstream


async def measure(calls: int = 200, warmup: int = 20) -> tuple[float, float, float]:
    """Median ms of the direct POST, of litellm, and of litellm minus direct per pair."""
    messages = [{"role": "user", "content": "hi"}]
    direct: list[float] = []
    through: list[float] = []
    with running_upstream() as fake:
        async with httpx.AsyncClient() as http:
            for _ in range(calls + warmup):
                started = time.perf_counter()
                await http.post(
                    fake.base_url + "/chat/completions", json={"model": "x", "messages": messages}
                )
                direct.append(time.perf_counter() - started)
                started = time.perf_counter()
                await litellm.acompletion(
                    model="openai/x",
                    api_base=fake.base_url,
                    api_key="k",
                    messages=messages,
                    num_retries=0,
                    max_retries=0,
                )
                through.append(time.perf_counter() - started)
    direct, through = direct[warmup:], through[warmup:]
    added = [b - a for a, b in zip(direct, through, strict=True)]
    return (
        statistics.median(direct) * 1000,
        statistics.median(through) * 1000,
        statistics.median(added) * 1000,
    )


def main() -> None:
    direct, through, added = asyncio.run(measure())
    print(
        f"direct httpx p50 {direct:.2f} ms; litellm.acompletion p50 {through:.2f} ms; "
        f"litellm added {added:.2f} ms"
    )


if __name__ == "__main__":
    main()
