"""The server's own CPU per call, without sockets on the way in: the ASGI app in-process.

    .venv/bin/python -m tests.bench.inproc [--rounds 3] [--calls 2000] [label=TREE ...]

Starts the benchmark's upstream and Postgres (tests/bench/targets.py) once. Then, for each
round and each source tree (default: this one), a child process builds that tree's app on
the same data dir and calls `POST /v1/agents/{name}` through ASGI directly, closed loop:
cache hits (one input repeated) and misses (a unique input each, answered by the fast
upstream over HTTP). It reports the median wall time of a call and the process CPU per call
(background writers included). Trees alternate per round, so an A/B of two commits
(`base=/tmp/base new=.`) shares the machine's weather; `py-spy record --gil` on a child
gives the profile behind the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.targets import AGENT, running_bench
from tests.bench.targets import payload as unique_payload
from tests.servers import ROOT


async def call(app: Any, key: str, body: bytes) -> int:
    """One request through the ASGI app; its status."""
    path = f"/v1/agents/{AGENT}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            await asyncio.Event().wait()  # the client never disconnects
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(app: Any, key: str, calls: int, *, repeat: bool) -> list[float]:
    """Wall ms of `calls` calls in a row: one input repeated (hits) or unique ones."""
    same = json.dumps(unique_payload()).encode()
    times = []
    for _ in range(calls):
        body = same if repeat else json.dumps(unique_payload()).encode()
        started = time.perf_counter()
        status = await call(app, key, body)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"the call answered {status}")
    return times


async def child(env: dict[str, str], key: str, calls: int) -> dict[str, tuple[float, float]]:
    """In a child process: build this tree's app, warm it, measure hits and misses."""
    os.environ.update(env)
    from app.core.settings import Settings
    from app.main import create_app

    app = create_app(Settings())
    results: dict[str, tuple[float, float]] = {}
    async with app.router.lifespan_context(app):
        await asyncio.sleep(1)  # the background pools open
        await measure(app, key, 300, repeat=False)
        for name, repeat in (("hit", True), ("miss", False)):
            await asyncio.sleep(0.2)
            cpu = time.process_time()
            times = await measure(app, key, calls, repeat=repeat)
            await asyncio.sleep(0.2)  # the writers' flush of these calls counts too
            per_call = (time.process_time() - cpu) / calls * 1000
            results[name] = (statistics.median(times), per_call)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("trees", nargs="*", help="label=path of a source tree (default: this)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--child", nargs=2, metavar=("ENV_JSON", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import uvloop  # as `specloom serve` runs

        env, key = json.loads(args.child[0]), args.child[1]
        print(json.dumps(uvloop.run(child(env, key, args.calls))), flush=True)
        return
    trees = [tuple(t.split("=", 1)) for t in args.trees] or [("this", str(ROOT))]
    seen: dict[str, dict[str, list[tuple[float, float]]]] = {t[0]: {} for t in trees}
    tmp = Path(tempfile.mkdtemp(prefix="specloom-inproc-"))
    with running_bench(tmp, ROOT / ".venv-bench/bin/python", with_proxy=False) as bench:
        server = bench.servers[0]
        for round_ in range(args.rounds):
            for label, tree in trees:
                command = [sys.executable, "-m", "tests.bench.inproc", "--calls", str(args.calls)]
                done = subprocess.run(
                    [*command, "--child", json.dumps(server.env), server.key],
                    cwd=tree,
                    env={**os.environ, "PYTHONPATH": tree},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"round {round_ + 1} {label}: {result}", flush=True)
                for name, value in result.items():
                    seen[label].setdefault(name, []).append(tuple(value))
    print("\n| tree | path | wall p50 ms | CPU ms/call |\n|---|---|---|---|")
    for label, by_name in seen.items():
        for name, values in by_name.items():
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            print(f"| {label} | {name} | {wall:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
