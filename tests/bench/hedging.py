"""Hedging, measured: a primary that answers in about 200 ms and hangs 5% of the time, with a
healthy backup; p50/p95/p99 without and with hedging, side by side in one run.

Both runs use the default timeouts (30 s attempts, 60 s deadline) and the same scripted
primary; only `hedge` differs. `--warmup` calls (all answered in about 200 ms, not
measured) come first, so the primary has a p95 to be hedged at from the first measured
call. Without hedging, a hang costs the primary's attempt timeout (its fair share of the
deadline the first time, its short leash after that) before the backup is asked; with it,
the backup is asked once the primary passes its own p95.

    .venv/bin/python -m tests.bench.hedging --calls 400
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx

from app.core.settings import Settings
from app.main import create_app
from tests.bench.soak import models_list
from tests.factories import make_document
from tests.fakes.upstream import Behaviour, Delay, FakeUpstream, Hang, Valid

KEY = "hedge-admin-key"


@dataclass(frozen=True)
class Run:
    label: str
    latencies_s: list[float]
    failures: int
    primary_calls: int
    backup_calls: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.label:<12} p50 {self.quantile(0.5) * 1000:7.0f} ms   "
            f"p95 {self.quantile(0.95) * 1000:7.0f} ms   p99 {self.quantile(0.99) * 1000:7.0f} ms"
            f"   max {max(self.latencies_s) * 1000:7.0f} ms   mean "
            f"{statistics.fmean(self.latencies_s) * 1000:5.0f} ms   failed {self.failures}   "
            f"primary/backup requests {self.primary_calls}/{self.backup_calls}"
        )


def primary(rng: random.Random) -> Behaviour:
    """About 200 ms, or (5%) a hang well past any timeout."""
    if rng.random() < 0.05:
        return Hang(60.0)
    return Delay(rng.uniform(0.15, 0.25), Valid())


async def measure(
    label: str, upstream: FakeUpstream, settings: Settings, calls: int, warmup: int
) -> Run:
    """`calls` calls, 8 in flight, against a freshly scripted primary."""
    upstream.reset()
    rng = random.Random(7)
    upstream.script(
        *(Delay(rng.uniform(0.15, 0.25), Valid()) for _ in range(warmup)), model="fake-fast"
    )
    upstream.script(*(primary(rng) for _ in range(calls * 2)), model="fake-fast")
    upstream.default = Delay(0.2, Valid())  # the backup
    document = make_document("hedged", model={"name": "fast", "fallbacks": ["smart"]})
    app = create_app(settings)
    latencies: list[float] = []
    failures = 0
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://b", headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            (await http.post("/api/specs", json={"document": document})).raise_for_status()
            (await http.post("/api/specs/hedged/publish", json={"version": 1})).raise_for_status()
            for i in range(warmup):
                body = {"subject": "Warm-up", "body": f"Warm-up call {i}"}
                (await http.post("/v1/agents/hedged", json=body)).raise_for_status()
            gate = asyncio.Semaphore(8)

            async def one(i: int) -> None:
                nonlocal failures
                async with gate:
                    started = time.monotonic()
                    body = {"subject": f"Ticket {i}", "body": f"Unique body {i}"}
                    response = await http.post("/v1/agents/hedged", json=body)
                    latencies.append(time.monotonic() - started)
                    failures += response.status_code != 200

            await asyncio.gather(*(one(i) for i in range(calls)))
    requests = (upstream.calls("fake-fast"), upstream.calls("fake-smart"))
    return Run(label, latencies, failures, *requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args()

    import yaml
    from pgserver.postgres_server import get_server

    from app.core.database import upgrade_to_head
    from app.core.embedded import ensure_database
    from tests.fakes.upstream import running_upstream

    root = Path(tempfile.mkdtemp(prefix="specloom-hedge-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    socket_dir = server.get_postmaster_info().socket_dir
    os.environ["FAKE_PROVIDER_KEY"] = "sk-fake"
    runs = []
    try:
        with running_upstream() as upstream:
            models = root / "models.yaml"
            models.write_text(yaml.safe_dump(models_list(upstream.base_url)))
            for label, hedge in (("no hedging", False), ("hedging", True)):
                name = label.replace(" ", "_")
                ensure_database(f"postgresql://postgres@/postgres?host={socket_dir}", name)
                url = f"postgresql+psycopg://postgres@/{name}?host={socket_dir}"
                upgrade_to_head(url)
                settings = Settings(
                    database_url=url,
                    admin_key=KEY,
                    data_dir=root / name,
                    models_file=models,
                    hedge=hedge,
                    log_level="WARNING",
                )
                run = measure(label, upstream, settings, args.calls, args.warmup)
                runs.append(asyncio.run(run))
    finally:
        server.cleanup()
    print(
        f"{args.calls} calls each (after {args.warmup} unmeasured), 8 in flight; "
        "primary ~200 ms with 5% hangs; backup 200 ms"
    )
    print("\n".join(run.line() for run in runs))


if __name__ == "__main__":
    main()
