"""How long a test run of 50 cases x 3 repeats takes against a model answering in 200 ms.

Run on demand: `python -m tests.bench.test_run_speed [--cases 50 --repeat 3 --latency-ms 200]`
(never collected by pytest: tests/bench is outside its recursion). Starts the fake
OpenAI-compatible upstream (every answer after the latency) and a real `specloom serve`
(embedded Postgres in a temp dir) as separate processes, stores the cases through the API,
starts one run and polls it to the end. Prints the wall time, attempts per second and the
lower bound the concurrency allows (attempts / concurrency x latency).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from tests.factories import make_document
from tests.servers import ROOT, free_port, running_server


def start_upstream(port: int, latency_ms: float) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.upstream",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
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


def measure(cases: int, repeat: int, latency_ms: float, concurrency: int) -> dict[str, float]:
    port = free_port()
    upstream = start_upstream(port, latency_ms)
    tmp = Path(tempfile.mkdtemp(prefix="specloom-bench-run-"))
    models = tmp / "models.yaml"
    models.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {
                        "model_name": "fast",
                        "litellm_params": {
                            "model": "openai/bench",
                            "api_base": f"http://127.0.0.1:{port}/v1",
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
        "SPECLOOM_TEST_CONCURRENCY": str(concurrency),
        "BENCH_KEY": "sk-bench",
    }
    headers = {"Authorization": "Bearer bench-key"}
    try:
        with (
            running_server(env, log_path=tmp / "server.log") as server,
            httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http,
        ):
            document = make_document("bench-run", model={"name": "fast"})
            http.post("/api/specs", json={"document": document}).raise_for_status()
            for i in range(cases):
                body = {
                    "name": f"case {i:03d}",
                    "input": {"subject": f"Refund {i}", "body": "I was charged twice."},
                    "expect": [{"path": "/summary", "exists": True}],
                    "repeat": repeat,
                }
                http.post("/api/specs/bench-run/cases", json=body).raise_for_status()
            started = time.perf_counter()
            response = http.post("/api/specs/bench-run/versions/1/test-runs")
            response.raise_for_status()
            run_id = response.json()["id"]
            while True:
                run = http.get(f"/api/test-runs/{run_id}").json()
                if run["status"] in ("passed", "failed", "error"):
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            assert run["status"] == "passed", run.get("error") or run["failing_cases"]
    finally:
        upstream.terminate()
        upstream.wait()
    attempts = cases * repeat
    return {
        "cases": cases,
        "repeat": repeat,
        "attempts": attempts,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "wall_s": round(elapsed, 2),
        "attempts_per_s": round(attempts / elapsed, 1),
        "lower_bound_s": round(attempts / concurrency * latency_ms / 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=None, help="default: the setting's")
    args = parser.parse_args()
    from app.core.settings import Settings

    concurrency = args.concurrency or Settings().evaluation.concurrency
    print(json.dumps(measure(args.cases, args.repeat, args.latency_ms, concurrency), indent=2))


if __name__ == "__main__":
    main()
