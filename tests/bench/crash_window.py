"""The crash window, measured: records lost when `specloom serve` is killed with SIGKILL
under load, and how long before the kill the oldest lost call was answered.

A call is answered before its record is written (the writer flushes every
`SPECLOOM_EXECUTION_FLUSH_INTERVAL_S`, 50 ms by default), so a kill -9 loses the records of
the calls answered since the last flush. Each round: 32 callers for a few seconds against a
fresh server on a fake upstream, SIGKILL, then every answered execution id is looked up.

    .venv/bin/python -m tests.bench.crash_window --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import psycopg
import yaml

from tests.bench.soak import models_list
from tests.factories import make_document
from tests.servers import start_server, wait_ready

KEY = "crash-admin-key"


@dataclass(frozen=True)
class Round:
    answered: int
    lost: int
    oldest_lost_ms: float  # how long before the kill the oldest lost call was answered
    rate: float  # answered calls per second


async def load(base_url: str, seconds: float, answered: dict[str, float]) -> None:
    """32 callers until `seconds` have passed; answered execution ids with their time."""
    headers = {"Authorization": f"Bearer {KEY}"}
    stop = time.monotonic() + seconds

    async def caller(n: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
            i = 0
            while time.monotonic() < stop:
                i += 1
                body = {"subject": f"s{n}", "body": f"b {n} {i} {time.time()}"}
                try:
                    response = await http.post("/v1/agents/ticket-triage", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    answered[response.headers["x-specloom-execution-id"]] = time.monotonic()

    await asyncio.gather(*(caller(n) for n in range(32)))


def one_round(env: dict[str, str], conninfo: str, log: Path) -> Round:
    server = start_server(env, log_path=log)
    wait_ready(server)
    answered: dict[str, float] = {}

    async def run() -> float:
        task = asyncio.create_task(load(server.base_url, 30, answered))
        await asyncio.sleep(3.0)
        server.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        await task
        return killed

    killed = asyncio.run(run())
    server.process.wait()
    with psycopg.connect(conninfo) as conn:
        stored = {str(row[0]) for row in conn.execute("SELECT id FROM execution")}
    lost = [at for id_, at in answered.items() if id_ not in stored]
    oldest = max((killed - at for at in lost), default=0.0) * 1000
    return Round(len(answered), len(lost), oldest, len(answered) / 3.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from pgserver.postgres_server import get_server

    from app.core.database import upgrade_to_head
    from app.core.embedded import ensure_database
    from tests.fakes.upstream import running_upstream

    root = Path(tempfile.mkdtemp(prefix="specloom-crash-"))
    server = get_server(root / "pg", cleanup_mode="delete")
    socket_dir = server.get_postmaster_info().socket_dir
    ensure_database(f"postgresql://postgres@/postgres?host={socket_dir}", "crash")
    url = f"postgresql+psycopg://postgres@/crash?host={socket_dir}"
    conninfo = f"postgresql://postgres@/crash?host={socket_dir}"
    upgrade_to_head(url)
    rounds: list[Round] = []
    try:
        with running_upstream() as upstream:
            models = root / "models.yaml"
            models.write_text(yaml.safe_dump(models_list(upstream.base_url)))
            env = {
                "SPECLOOM_DATABASE_URL": url,
                "SPECLOOM_ADMIN_KEY": KEY,
                "SPECLOOM_DATA_DIR": str(root / "data"),
                "SPECLOOM_MODELS_FILE": str(models),
                "FAKE_PROVIDER_KEY": "sk-fake",
                "SPECLOOM_LOG_LEVEL": "WARNING",
            }
            document = make_document(model={"name": "fast"})
            first = start_server(env, log_path=root / "setup.log")
            wait_ready(first)
            auth = {"Authorization": f"Bearer {KEY}"}
            httpx.post(first.base_url + "/api/specs", json={"document": document}, headers=auth)
            httpx.post(
                first.base_url + "/api/specs/ticket-triage/publish",
                json={"version": 1},
                headers=auth,
            ).raise_for_status()
            first.process.send_signal(signal.SIGTERM)
            first.process.wait()
            for n in range(args.rounds):
                rounds.append(one_round(env, conninfo, root / f"round-{n}.log"))
    finally:
        server.cleanup()
    print("round  answered  calls/s  lost  oldest lost answer before the kill")
    for n, r in enumerate(rounds):
        print(f"{n:5}  {r.answered:8}  {r.rate:7.0f}  {r.lost:4}  {r.oldest_lost_ms:6.1f} ms")


if __name__ == "__main__":
    main()
