"""Added latency of one call: Specloom vs the direct call to the same fake upstream.

Run on demand (`make bench`), never in `make test`. Starts the fake OpenAI-compatible
upstream and a real `specloom serve` (execution logging on, embedded Postgres in a temp
dir) as separate processes, then alternates direct and Specloom calls at concurrency 1 so
both see the same machine noise. Prints medians, p99 and the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import yaml

from tests.factories import make_document
from tests.servers import ROOT, free_port, running_server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_upstream(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("fake upstream did not start")


def measure(calls: int) -> dict[str, float]:
    upstream_port = free_port()
    upstream = start_upstream(upstream_port)
    base = f"http://127.0.0.1:{upstream_port}/v1"
    tmp = Path(tempfile.mkdtemp(prefix="specloom-bench-"))
    models = tmp / "models.yaml"
    models.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {
                        "model_name": "fast",
                        "litellm_params": {
                            "model": "openai/bench",
                            "api_base": base,
                            "api_key": "os.environ/BENCH_KEY",
                        },
                    }
                ]
            }
        )
    )
    env = {
        "SPECLOOM_DATA_DIR": str(tmp / "data"),
        "SPECLOOM_MODELS_FILE": str(models),
        "SPECLOOM_ADMIN_KEY": "bench-key",
        "SPECLOOM_DATABASE_URL": "",
        "SPECLOOM_LOG_LEVEL": "WARNING",
        "BENCH_KEY": "sk-bench",
    }
    headers = {"Authorization": "Bearer bench-key"}
    try:
        with (
            running_server(env, log_path=tmp / "server.log") as server,
            httpx.Client(timeout=30) as http,
        ):
            document = make_document("bench-agent", model={"name": "fast"})
            http.post(
                server.base_url + "/api/specs", json={"document": document}, headers=headers
            ).raise_for_status()
            http.post(
                server.base_url + "/api/specs/bench-agent/publish",
                json={"version": 1},
                headers=headers,
            ).raise_for_status()
            compiled = http.get(
                server.base_url + "/api/specs/bench-agent/versions/1/compiled", headers=headers
            ).json()
            direct_ms: list[float] = []
            specloom_ms: list[float] = []
            for i in range(calls + 20):
                token = uuid.uuid4().hex  # unique input: nothing may be served from a cache
                payload = {"subject": f"Refund {token}", "body": "I was charged twice."}
                messages = [
                    {"role": "system", "content": compiled["messages"][0]["content"]},
                    {"role": "user", "content": json.dumps(payload)},
                ]
                started = time.perf_counter()
                http.post(
                    base + "/chat/completions",
                    json={
                        "model": "bench",
                        "messages": messages,
                        "response_format": compiled["response_format"],
                    },
                    headers={"Authorization": "Bearer sk-bench"},
                ).raise_for_status()
                direct = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                response = http.post(
                    server.base_url + "/v1/agents/bench-agent", json=payload, headers=headers
                )
                ours = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.text
                if i >= 20:  # warm-up excluded
                    direct_ms.append(direct)
                    specloom_ms.append(ours)
    finally:
        upstream.terminate()
        upstream.wait()
    added = [s - d for s, d in zip(specloom_ms, direct_ms, strict=True)]
    return {
        "calls": calls,
        "direct_p50_ms": statistics.median(direct_ms),
        "direct_p99_ms": percentile(direct_ms, 0.99),
        "specloom_p50_ms": statistics.median(specloom_ms),
        "specloom_p99_ms": percentile(specloom_ms, 0.99),
        "added_p50_ms": statistics.median(added),
        "added_p99_ms": percentile(added, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    result = measure(args.calls)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(
            f"{key:<{width}}  {value:.2f}"
            if isinstance(value, float)
            else f"{key:<{width}}  {value}"
        )


if __name__ == "__main__":
    main()
