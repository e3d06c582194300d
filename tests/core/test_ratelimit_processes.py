"""Two real OS processes, real time, one database: together they stay within the rpm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Each process connects, says it is ready, waits for the word to go, then acquires as fast
# as it can for a few seconds and prints the wall times of its slots and how often it tried.
SCRIPT = """
import asyncio, json, sys, time
from sqlalchemy import text
from app.core.clock import SystemClock
from app.core.database import make_engine, make_sessionmaker
from app.core.ratelimit import RateLimiter

async def main(url: str, seconds: float) -> None:
    engine = make_engine(url)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    limiter = RateLimiter(make_sessionmaker(engine), clock=SystemClock())
    print("ready", flush=True)
    sys.stdin.readline()
    start, taken, tries = time.time(), [], 0
    while time.time() < start + seconds:
        tries += 1
        if await limiter.acquire("shared", rpm=30, tpm=None, tokens=0, max_wait_s=0):
            taken.append(time.time())
    await engine.dispose()
    print(json.dumps({"taken": taken, "tries": tries, "start": start, "end": time.time()}))

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


def test_two_processes_stay_within_rpm(database_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, database_url, "2.5"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))

    taken = sorted(t for report in reports for t in report["taken"])
    assert all(report["tries"] > 30 for report in reports)  # both pressed the limit...
    assert max(r["start"] for r in reports) < min(r["end"] for r in reports)  # ...together
    assert taken[-1] - taken[0] < 60  # all within the first window
    assert len(taken) == 30  # never more, and the limit was used up
