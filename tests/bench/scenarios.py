"""The benchmark scenarios (a)-(f) of the performance targets, each returning rows for the table."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
import psutil

from tests.bench.load import Samples, burst, closed_loop, open_loop, session
from tests.bench.targets import REASK_MARKER, Bench, Target, payload, start_specloom
from tests.servers import stop_server, wait_ready

Row = dict[str, str]


def ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}"  # NaN check


@dataclass
class PeakRss:
    """The highest resident memory of a process and its children while the block runs."""

    pid: int
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                total = root.memory_info().rss + sum(
                    c.memory_info().rss for c in root.children(recursive=True)
                )
            except psutil.Error:
                total = 0
            self.peak_mb = max(self.peak_mb, total / 2**20)
            time.sleep(0.02)

    @contextmanager
    def watching(self) -> Iterator[PeakRss]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) of a process and its children so far; 0 without one."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        return sum(t.user + t.system for t in (p.cpu_times() for p in procs))
    except psutil.Error:
        return 0.0


async def _warm(http: aiohttp.ClientSession, targets: list[Target], calls: int = 30) -> None:
    for target in targets:
        await closed_loop(http, target.make, concurrency=1, calls=calls)


async def added_latency(bench: Bench, rounds: int, per_round: int) -> list[Row]:
    """(a) concurrency 1, interleaved rounds: median of round medians and p99, minus direct."""
    targets = bench.targets()
    by_name: dict[str, list[Samples]] = {t.name: [] for t in targets}
    cpu_ms: dict[str, float] = {t.name: 0.0 for t in targets}
    async with session(limit=1) as http:
        await _warm(http, targets)
        for r in range(rounds):
            order = targets[r % len(targets) :] + targets[: r % len(targets)]
            for target in order:
                before = _cpu_s(target.pid)
                by_name[target.name].append(
                    await closed_loop(http, target.make, concurrency=1, calls=per_round)
                )
                cpu_ms[target.name] += (_cpu_s(target.pid) - before) * 1000
    direct = by_name["direct"]
    direct_all = Samples(latencies_ms=[x for s in direct for x in s.latencies_ms])
    rows = []
    for name, rounds_ in by_name.items():
        medians = [s.p50 for s in rounds_]
        added = [s.p50 - d.p50 for s, d in zip(rounds_, direct, strict=True)]
        all_ = Samples(latencies_ms=[x for s in rounds_ for x in s.latencies_ms])
        q1, _, q3 = statistics.quantiles(added, n=4) if len(added) > 1 else (0, 0, 0)
        rows.append(
            {
                "target": name,
                "p50 ms": ms(statistics.median(medians)),
                "p99 ms": ms(all_.p99),
                "added p50 ms": ms(statistics.median(added)),
                "added p99 ms": ms(all_.p99 - direct_all.p99),
                "added p50 IQR over rounds": f"{q1:.2f}..{q3:.2f}",
                # Server CPU per call: what a busy shared machine inflates least.
                "server CPU ms/call": ms(cpu_ms[name] / max(1, all_.count))
                if name != "direct"
                else "n/a",
                "errors": str(sum(s.errors for s in rounds_)),
            }
        )
    return rows


async def frontier(bench: Bench, rates: list[float], step_s: float) -> list[Row]:
    """(b) highest open-loop rate with added p99 < 10 ms and no errors, per target."""
    targets = bench.targets()
    best: dict[str, float] = {t.name: 0.0 for t in targets}
    detail: dict[str, str] = {t.name: "" for t in targets}
    alive = {t.name for t in targets}
    async with session() as http:
        await _warm(http, targets)
        for rate in rates:
            results = {}
            for target in targets:
                if target.name in alive:
                    results[target.name] = await open_loop(
                        http, target.make, rate=rate, duration_s=step_s
                    )
            direct = results.get("direct")
            for name, samples in results.items():
                added = samples.p99 - direct.p99 if direct is not None else float("nan")
                ok = samples.errors == 0 and (name == "direct" or added < 10)
                if name == "direct":
                    ok = samples.errors == 0 and samples.p99 < 50
                note = f"@{rate:g}/s p99 {samples.p99:.1f} ms, errors {samples.errors}"
                if ok:
                    best[name] = rate
                else:
                    alive.discard(name)
                    detail[name] = "first miss " + note
            if "direct" not in alive or alive == {"direct"}:
                break
    # The frontier needs a quiet machine; saturation throughput (closed loop, many callers,
    # interleaved rounds) still compares the targets when the machine is busy.
    saturated: dict[str, list[float]] = {t.name: [] for t in targets}
    failed: dict[str, int] = {t.name: 0 for t in targets}
    async with session() as http:
        for _ in range(2):
            for target in targets:
                samples = await closed_loop(http, target.make, concurrency=32, calls=600)
                saturated[target.name].append(samples.rate)
                failed[target.name] += samples.errors
    return [
        {
            "target": name,
            "frontier req/s": f"{best[name]:g}",
            "stopped at": detail[name] or "-",
            "saturation req/s (32 callers)": f"{statistics.median(saturated[name]):.0f}",
            "errors at saturation": str(failed[name]),
        }
        for name in best
    ]


async def thousand_in_flight(bench: Bench, count: int = 1000) -> list[Row]:
    """(c) `count` requests at once on the 2 s upstream: success, wall time, peak RSS."""
    rows = []
    async with session() as http:
        for target in bench.targets(slow=True):
            await closed_loop(http, target.make, concurrency=2, calls=4)  # warm
            watcher = PeakRss(target.pid) if target.pid else None
            if watcher is None:
                samples = await burst(http, target.make, count)
                peak = "n/a"
            else:
                with watcher.watching():
                    samples = await burst(http, target.make, count)
                peak = f"{watcher.peak_mb:.0f}"
            rows.append(
                {
                    "target": target.name,
                    "success": f"{len(samples.latencies_ms) / count:.1%}",
                    "wall s": f"{samples.wall_s:.2f}",
                    "p50 ms": ms(samples.p50),
                    "peak RSS MB": peak,
                    "statuses": str(samples.statuses),
                }
            )
    return rows


def _specloom(targets: list[Target]) -> list[Target]:
    return [t for t in targets if t.name.startswith("specloom")]


async def cache_hits(bench: Bench, calls: int) -> list[Row]:
    """(d) the same input again and again: Specloom answers from its response cache."""
    fixed = payload()
    rows = []
    async with session() as http:
        for target in _specloom(bench.targets(fixed=fixed)):
            await closed_loop(http, target.make, concurrency=1, calls=20)  # the miss, then hits
            single = await closed_loop(http, target.make, concurrency=1, calls=calls)
            loaded = await closed_loop(http, target.make, concurrency=16, calls=calls * 4)
            rows.append(
                {
                    "target": f"{target.name} (hit)",
                    "p50 ms": ms(single.p50),
                    "p99 ms": ms(single.p99),
                    "req/s (16 callers)": f"{loaded.rate:.0f}",
                    "errors": str(single.errors + loaded.errors),
                }
            )
    return rows


async def reask(bench: Bench, rounds: int, per_round: int) -> list[Row]:
    """(e) one invalid answer, one re-ask: Specloom minus two direct calls."""
    all_ = bench.targets(marker=REASK_MARKER)
    targets = [all_[0], *_specloom(all_)]
    medians: dict[str, list[float]] = {t.name: [] for t in targets}
    async with session(limit=1) as http:
        await _warm(http, targets, calls=10)
        for _ in range(rounds):
            for target in targets:
                samples = await closed_loop(http, target.make, concurrency=1, calls=per_round)
                medians[target.name].append(samples.p50)
    direct = medians.pop("direct")
    return [
        {
            "target": f"{name} (1 re-ask)",
            "p50 ms": ms(statistics.median(ours)),
            "direct p50 ms": ms(statistics.median(direct)),
            "added over 2 direct calls ms": ms(
                statistics.median([o - 2 * d for o, d in zip(ours, direct, strict=True)])
            ),
        }
        for name, ours in medians.items()
    ]


def startup(bench: Bench, repeats: int) -> list[Row]:
    """(f) each `specloom serve` on the initialised data dir until /readyz says 200.

    The servers are stopped first and restarted one at a time, alternating, so they see
    the same machine; the embedded Postgres is already initialised (and, as in any
    restart, may still be running for the shared data dir).
    """
    for s in bench.servers:
        stop_server(s.server)
    times: dict[str, list[float]] = {s.name: [] for s in bench.servers}
    cpu: dict[str, list[float]] = {s.name: [] for s in bench.servers}
    for i in range(repeats):
        for s in bench.servers:
            started = time.perf_counter()
            server = start_specloom(s.env, s.cwd, bench.tmp / f"startup-{s.name}-{i}.log")
            try:
                wait_ready(server, timeout_s=300)
                times[s.name].append(time.perf_counter() - started)
                # CPU seconds the process spent getting ready: far less sensitive than wall
                # time to the other work on a shared machine.
                used = psutil.Process(server.process.pid).cpu_times()
                cpu[s.name].append(used.user + used.system)
            finally:
                stop_server(server)
    return [
        {
            "target": f"{name} serve",
            "median s": f"{statistics.median(runs):.2f}",
            "runs s": ", ".join(f"{t:.2f}" for t in runs),
            "CPU s at ready (median)": f"{statistics.median(cpu[name]):.2f}",
        }
        for name, runs in times.items()
    ]
