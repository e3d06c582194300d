"""What a spec's checks cost on the hot path: each check's evaluation on one answer.

Judges the example specs' own example outputs (their checks and grounded strings, compiled
once as a spec version is) many times and prints microseconds per answer and per check,
and what compiling and type-checking the checks costs when a spec is written. Run:
`.venv/bin/python -m tests.bench.checks [--rounds 2000]`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from app.compiler.check_issues import check_issues
from app.compiler.checks import SpecChecks
from app.compiler.document import SpecDocument, parse_document

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _per_answer_us(checks: SpecChecks, document: SpecDocument, rounds: int) -> float:
    example = document.examples[0]
    started = time.perf_counter()
    for _ in range(rounds):
        checks.judge(example.input, example.input, example.output)
    return (time.perf_counter() - started) / rounds * 1e6


def _write_time_ms(document: SpecDocument, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        check_issues(document, schemas_valid=True)
    return (time.perf_counter() - started) / rounds * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args(argv)
    print(
        f"{'spec':<28}{'checks':>7}{'grounded':>9}{'µs/answer':>11}{'µs/check':>10}{'ms/write':>10}"
    )
    for path in sorted(SPECS.glob("*.yaml")):
        document = parse_document(yaml.safe_load(path.read_text(encoding="utf-8")))
        checks = SpecChecks(document.checks, document.output_schema)
        count = len(checks.names)
        per_answer = _per_answer_us(checks, document, args.rounds)
        write = _write_time_ms(document, max(1, args.rounds // 100))
        grounded = "yes" if "x-grounded" in checks.names else "no"
        print(
            f"{document.name:<28}{len(document.checks):>7}{grounded:>9}"
            f"{per_answer:>11.1f}{per_answer / max(1, count):>10.1f}{write:>10.2f}"
        )


if __name__ == "__main__":
    main()
