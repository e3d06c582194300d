"""Where a Specloom call spends its CPU: py-spy samples the server under steady load.

    .venv/bin/python -m tests.bench.profile --seconds 20 --concurrency 4

Starts the benchmark's processes (tests/bench/targets.py), drives `POST /v1/agents/{name}`
closed-loop, records the `specloom serve` process with py-spy (collapsed stacks), and
prints the frames with the most samples: inclusive (the frame is on the stack) and self
(the frame is on top). Needs `py-spy` on PATH or next to the interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.bench.load import burst, closed_loop, session
from tests.bench.targets import Bench, running_bench
from tests.servers import ROOT


def summarize(collapsed: Path, top: int) -> str:
    """The top frames of a py-spy collapsed-stack file, inclusive and self."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1] for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines.append(f"\n-- top {top} {title} --")
        for frame, count in counter.most_common(top):
            lines.append(f"{count / total:6.1%}  {frame}")
    return "\n".join(lines)


async def drive(bench: Bench, concurrency: int, calls: int, burst_of: int = 0) -> None:
    target = next(t for t in bench.targets(slow=burst_of > 0) if t.name == "specloom")
    async with session() as http:
        if burst_of:
            samples = await burst(http, target.make, burst_of)
        else:
            samples = await closed_loop(http, target.make, concurrency=concurrency, calls=calls)
    print(f"{samples.count} calls, {samples.rate:.0f}/s, p50 {samples.p50:.2f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--calls", type=int, default=1500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--burst", type=int, default=0, help="instead: this many at once on the 2 s upstream"
    )
    parser.add_argument("--proxy-python", type=Path, default=ROOT / ".venv-bench/bin/python")
    parser.add_argument("--out", type=Path, default=None, help="keep the collapsed stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    tmp = Path(tempfile.mkdtemp(prefix="specloom-profile-"))
    out = args.out or tmp / "specloom.collapsed"
    with running_bench(tmp, args.proxy_python, with_proxy=False) as bench:
        asyncio.run(drive(bench, args.concurrency, 200))  # warm
        recorder = subprocess.Popen(
            [
                *(
                    py_spy,
                    "record",
                    "--pid",
                    str(bench.servers[0].server.process.pid),
                    "--format",
                    "raw",
                    "--gil",  # only samples holding the GIL: CPU, not waits or preemption
                ),
                *("--rate", "250", "--duration", str(args.seconds), "--output", str(out)),
            ],
            stdout=subprocess.DEVNULL,
        )
        asyncio.run(drive(bench, args.concurrency, args.calls, args.burst))
        recorder.wait()
    print(summarize(out, args.top))


if __name__ == "__main__":
    main()
