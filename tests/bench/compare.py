"""Side by side: the direct call, Specloom and LiteLLM's proxy on one fake upstream.

    .venv/bin/python -m tests.bench.compare --proxy-python .venv-bench/bin/python

Runs scenarios (a)-(f), prints the tables and writes tests/bench/RESULTS.md with the
machine it ran on. LiteLLM's proxy runs from its own venv (`make bench` creates
`.venv-bench`) so its pins never touch the app's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.bench import scenarios
from tests.bench.scenarios import Row
from tests.bench.targets import running_bench
from tests.servers import ROOT

RESULTS = ROOT / "tests" / "bench" / "RESULTS.md"


def table(rows: list[Row]) -> str:
    """A Markdown table of `rows` (all with the keys of the first, in order)."""
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(row.get(k, "") for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine(proxy_python: Path) -> str:
    """Cores, CPU model, OS, python and the versions that matter."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    proxy_litellm = subprocess.run(
        [str(proxy_python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "litellm", "aiohttp")
    )
    return (
        f"- {os.cpu_count()} cores, {cpu}; {platform.platform()}\n"
        f"- Python {platform.python_version()}; app venv: {versions}\n"
        f"- LiteLLM proxy venv: litellm[proxy] {proxy_litellm or 'unknown'}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--proxy-python", type=Path, default=ROOT / ".venv-bench/bin/python")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=30)
    parser.add_argument("--rates", default="10,25,50,100,150,200,300,400,600,800")
    parser.add_argument("--step-s", type=float, default=3.0)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--startups", type=int, default=3)
    parser.add_argument("--only", default="abcdef", help="scenario letters to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="also run `specloom-before` from this source tree (e.g. `git archive` of a commit)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:ENV=VALUE[,ENV=VALUE]",
        help="this tree with extra env, e.g. no-lean:SPECLOOM_LEAN_PROVIDER_PATH=false",
    )
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

    load_before = os.getloadavg()
    started = time.monotonic()
    sections: list[tuple[str, list[Row]]] = []
    tmp = Path(tempfile.mkdtemp(prefix="specloom-bench-"))

    def run(title: str, letter: str, work: Callable[[], Coroutine[Any, Any, list[Row]]]) -> None:
        if letter in args.only:
            rows = asyncio.run(work())
            sections.append((title, rows))
            print(f"\n## {title}\n\n{table(rows)}", flush=True)

    variants = {}
    for spec in args.variant:
        name, _, assignments = spec.partition(":")
        variants["specloom-" + name] = dict(a.split("=", 1) for a in assignments.split(",") if a)
    with running_bench(tmp, args.proxy_python, baseline=args.baseline, variants=variants) as bench:
        run(
            "(a) Added latency at concurrency 1 (interleaved rounds)",
            "a",
            lambda: scenarios.added_latency(bench, args.rounds, args.per_round),
        )
        run(
            "(b) Throughput frontier (open loop; added p99 < 10 ms, no errors)",
            "b",
            lambda: scenarios.frontier(
                bench, [float(r) for r in args.rates.split(",")], args.step_s
            ),
        )
        run(
            f"(c) {args.in_flight} in flight, upstream latency 2 s",
            "c",
            lambda: scenarios.thousand_in_flight(bench, args.in_flight),
        )
        run(
            "(d) Cache hits (same input repeated)",
            "d",
            lambda: scenarios.cache_hits(bench, args.per_round * 5),
        )
        run(
            "(e) One re-ask (invalid first answer), no model time",
            "e",
            lambda: scenarios.reask(bench, max(3, args.rounds // 2), args.per_round),
        )
        if "f" in args.only:
            rows = scenarios.startup(bench, args.startups)
            sections.append(("(f) Start-up to /readyz 200 on an initialised data dir", rows))
            print(f"\n## {sections[-1][0]}\n\n{table(rows)}", flush=True)
    load_after = os.getloadavg()
    elapsed = time.monotonic() - started
    body = [
        "# Benchmark results\n",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} in {elapsed:.0f} s with "
        f"`python -m tests.bench.compare` (args: {vars(args)}).\n",
        machine(args.proxy_python),
        f"- Load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        "(the machine is shared; compare ratios within one run)\n",
        "\nTargets: **direct** = the load generator straight to the fake upstream (the floor); "
        "**specloom** = `POST /v1/agents/{name}` on `specloom serve` (1 worker, embedded "
        "Postgres, execution log on, invoke key, response cache on at temperature 0: a new "
        "input is a miss that is stored); **litellm-proxy** = `litellm --num_workers 1`, "
        "no database, "
        "no callbacks. Every prompt carries a unique token unless the scenario repeats one.\n",
    ]
    for title, rows in sections:
        body.append(f"\n## {title}\n\n{table(rows)}")
    args.out.write_text("".join(body))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
