"""Throughput of a batch job on 1 and 2 worker processes, and under a model rpm limit.

A fake upstream with 200 ms latency (no rate limit of its own), an embedded Postgres, the
API in this process and real `specloom worker` processes. The clock starts at submission
(workers already registered) and stops when the job has finished.

    .venv/bin/python -m tests.bench.jobs_throughput [--items 2000] [--concurrency 20]
        [--rpm 300] [--rpm-items 600] [--runs 1,2,rpm]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("FAKE_PROVIDER_KEY", "sk-fake-provider-key")

import psycopg
import yaml

from app.core.settings import Settings
from tests.conftest import ADMIN_KEY, admin_client, running_app
from tests.fakes.upstream import FakeUpstream
from tests.jobs.workers import running_workers
from tests.serving.conftest import live_agent, models_file


@dataclass(frozen=True)
class Run:
    label: str
    items: int
    wall_s: float
    upstream_calls: int
    busiest_minute: int
    status: str

    def line(self) -> str:
        return (
            f"{self.label:<28} {self.items:>5} items  {self.wall_s:7.1f} s  "
            f"{self.items / self.wall_s:7.1f} items/s  busiest 60 s: {self.busiest_minute:>5}  "
            f"({self.status})"
        )


def busiest_minute(times: list[float]) -> int:
    """Most upstream requests in any 60-second span."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


async def one_run(
    label: str,
    *,
    pg_socket: str,
    root: Path,
    upstream: FakeUpstream,
    workers: int,
    concurrency: int,
    items: int,
    rpm: int | None,
) -> Run:
    from app.core.database import upgrade_to_head
    from app.core.embedded import ensure_database

    name = f"bench_{label.replace(' ', '_').replace(',', '')}"[:60]
    ensure_database(f"postgresql://postgres@/postgres?host={pg_socket}", name)
    url = f"postgresql+psycopg://postgres@/{name}?host={pg_socket}"
    upgrade_to_head(url)
    models = models_file(root / f"{name}.yaml", upstream.base_url)
    if rpm is not None:
        document = yaml.safe_load(models.read_text())
        for entry in document["model_list"]:
            entry["litellm_params"]["rpm"] = rpm
        models.write_text(yaml.safe_dump(document))
    settings = Settings(
        database_url=url,
        data_dir=root / name,
        admin_key=ADMIN_KEY,
        models_file=models,
        max_retries=0,
        worker_poll_interval_s=0.5,
    )
    upstream.reset()
    log_dir = root / name
    log_dir.mkdir(parents=True, exist_ok=True)
    with running_workers(settings, log_dir, count=workers, concurrency=concurrency):
        async with running_app(settings) as app, admin_client(app) as api:
            await live_agent(api)
            await _registered(url, workers)
            inputs = [{"subject": f"Ticket {n}", "body": f"bench item {n}"} for n in range(items)]
            started = time.monotonic()
            created = await api.post("/v1/agents/ticket-triage/jobs", json={"inputs": inputs})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            while True:
                job = (await api.get(f"/v1/jobs/{job_id}")).json()
                if job["finished_at"] is not None:
                    break
                await asyncio.sleep(0.25)
            wall = time.monotonic() - started
    times = [request.received_at for request in upstream.requests]
    return Run(label, items, wall, len(times), busiest_minute(times), job["status"])


async def _registered(url: str, count: int, timeout_s: float = 300) -> None:
    """Wait until `count` workers have registered (imports done, ready to take tasks)."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + timeout_s
    while True:
        async with await psycopg.AsyncConnection.connect(conninfo) as conn:
            found = await (
                await conn.execute("SELECT count(*) FROM procrastinate_workers")
            ).fetchone()
        if found is not None and found[0] >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        await asyncio.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20, help="per worker")
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--rpm", type=int, default=300)
    parser.add_argument("--rpm-items", type=int, default=600)
    parser.add_argument(
        "--runs", default="1,2,rpm", help="which runs: 1 and 2 workers, 2 workers with --rpm"
    )
    args = parser.parse_args()

    from pgserver.postgres_server import get_server

    from tests.fakes.upstream import running_upstream

    root = Path(tempfile.mkdtemp(prefix="specloom-jobs-bench-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    runs: list[Run] = []
    try:
        with running_upstream(latency_s=args.latency_ms / 1000) as upstream:
            chosen = args.runs.split(",")
            for key, label, workers, rpm, items in (
                ("1", "1 worker", 1, None, args.items),
                ("2", "2 workers", 2, None, args.items),
                ("rpm", f"2 workers, rpm {args.rpm}", 2, args.rpm, args.rpm_items),
            ):
                if key not in chosen:
                    continue
                run = asyncio.run(
                    one_run(
                        label,
                        pg_socket=socket_dir,
                        root=root,
                        upstream=upstream,
                        workers=workers,
                        concurrency=args.concurrency,
                        items=items,
                        rpm=rpm,
                    )
                )
                runs.append(run)
                print(run.line(), flush=True)
    finally:
        server.cleanup()
    print(f"upstream latency {args.latency_ms:.0f} ms, concurrency {args.concurrency}/worker")
    for run in runs:
        print(run.line())


if __name__ == "__main__":
    main()
