"""`make test-real`: the pipeline end to end on every example spec, against the real small
model on loopback, with default settings. Figures are reported, not asserted, and written
to tests/real/RESULTS.md.

    python -m tests.real.lane [--cases N] [--suites]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.core.database import database_url, upgrade_to_head
from app.core.settings import Settings
from tests.conftest import ADMIN_KEY, _stop_postmaster, admin_client, running_app
from tests.real.local import MODEL_NAME, ROOT, install, local_server, models_file
from tests.servers import free_port

RESULTS = Path(__file__).with_name("RESULTS.md")
DEADLINE = "X-Specloom-Deadline-Ms"


@dataclass
class SpecFigures:
    """What one spec's calls came to."""

    name: str
    calls: int = 0
    first_time: int = 0  # valid on the first attempt
    after_reask: int = 0  # valid after re-asks or a larger output limit
    failed: Counter[str] = field(default_factory=Counter)  # by problem type
    outcomes: Counter[str] = field(default_factory=Counter)  # every attempt's outcome
    latencies_s: list[float] = field(default_factory=list)
    suite: str = "not run"


async def run_spec(
    api: httpx.AsyncClient, document: dict[str, Any], cases: int, suites: bool
) -> SpecFigures:
    name = document["name"]
    figures = SpecFigures(name)
    # Without its tests: a new version's suite would start in the background and share the
    # one-slot server with the calls measured here (run it with --suites instead).
    bare = {k: v for k, v in document.items() if k != "tests"}
    created = await api.post("/api/specs", json={"document": bare})
    created.raise_for_status()
    published = await api.post(
        f"/api/specs/{name}/publish",
        json={"version": 1, "force": True, "reason": "the real-model lane measures, not gates"},
    )
    published.raise_for_status()
    for test in document.get("tests", [])[:cases]:
        started = time.monotonic()
        # A CPU model reads a spec's prompt for tens of seconds: the caller asks for the
        # longest deadline a request may (SPECLOOM_MAX_CALL_DEADLINE_S, default 300 s).
        response = await api.post(
            f"/v1/agents/{name}", json=test["input"], headers={DEADLINE: "300000"}
        )
        figures.latencies_s.append(time.monotonic() - started)
        found = await api.get(f"/v1/executions/{response.headers['x-specloom-execution-id']}")
        attempts = found.json()["attempts"]
        figures.calls += 1
        figures.outcomes.update(a["outcome"] for a in attempts)
        if response.status_code == 200:
            if len(attempts) == 1:
                figures.first_time += 1
            else:
                figures.after_reask += 1
        else:
            figures.failed[response.json()["type"].rsplit("/", 1)[-1]] += 1
    if suites:
        figures.suite = await run_suite(api, document)
    return figures


async def run_suite(api: httpx.AsyncClient, document: dict[str, Any]) -> str:
    """The spec's own suite on the real model: cases passed and the overall pass rate."""
    name = document["name"]
    versioned = await api.post(
        f"/api/specs/{name}/versions",
        json={"document": document, "base_version": 1, "message": "with its tests"},
    )
    versioned.raise_for_status()
    started = await api.post(f"/api/specs/{name}/versions/2/test-runs")
    started.raise_for_status()
    run_id = started.json()["id"]
    while True:
        run: dict[str, Any] = (await api.get(f"/api/test-runs/{run_id}")).json()
        if run["status"] in ("passed", "failed", "error"):
            break
        await asyncio.sleep(1)
    cases = run["cases"]
    passed = sum(1 for c in cases if c["passed"])
    rates = [c["pass_rate"] for c in cases if c.get("pass_rate") is not None]
    mean = statistics.fmean(rates) if rates else 0.0
    return f"{passed}/{len(cases)} cases passed, mean pass rate {mean:.0%}"


def report(figures: list[SpecFigures], cases: int, seconds: float) -> str:
    lines = [
        "# The real small model lane",
        "",
        f"`make test-real` ({MODEL_NAME} via node-llama-cpp on loopback, CPU, one slot, "
        "default settings but a 300 s deadline per call, the llama.cpp preset in schema mode; "
        f"the first {cases} test inputs of every example spec, {seconds:.0f} s in all). "
        "Figures are measured, not asserted.",
        "",
        "| spec | calls | valid first time | valid after re-ask | failed | median s | max s "
        "| suite |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        failed = ", ".join(f"{n} {k}" for k, n in f.failed.most_common()) or "0"
        median = statistics.median(f.latencies_s) if f.latencies_s else 0.0
        longest = max(f.latencies_s, default=0.0)
        lines.append(
            f"| {f.name} | {f.calls} | {f.first_time} | {f.after_reask} | {failed} "
            f"| {median:.1f} | {longest:.1f} | {f.suite} |"
        )
    outcomes: Counter[str] = Counter()
    for f in figures:
        outcomes.update(f.outcomes)
    lines += ["", "Attempt outcomes: " + ", ".join(f"{k} {n}" for k, n in outcomes.most_common())]
    return "\n".join(lines) + "\n"


async def main(cases: int, suites: bool) -> None:
    # `kill` (SIGTERM) ends the lane as Ctrl-C does: through the `finally`s that stop the
    # model server and the embedded Postgres, never leaving them running.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    installed = install()
    documents = [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "specs").glob("*.yaml"))
    ]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, local_server(installed, free_port()) as base_url:
        # No database configured: the app's own embedded Postgres, under the temp dir.
        settings = Settings(
            data_dir=Path(tmp) / "data",
            admin_key=ADMIN_KEY,
            models_file=models_file(Path(tmp) / "models.yaml", base_url),
            # What a team serving a CPU model sets (SPECLOOM_CALL_DEADLINE_S): the suites'
            # calls get the 300 s the measured calls ask for by header.
            call_deadline_s=300,
        )
        upgrade_to_head(database_url(settings))
        try:
            async with running_app(settings) as application, admin_client(application) as api:
                api.timeout = httpx.Timeout(900)
                figures = [await run_spec(api, document, cases, suites) for document in documents]
        finally:
            _stop_postmaster(Path(tmp) / "data" / "pg")
    text = report(figures, cases, time.monotonic() - started)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=1000, help="test inputs per spec")
    parser.add_argument("--suites", action="store_true", help="also run each spec's suite")
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.suites))
