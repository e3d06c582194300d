"""The hourly rollup of the execution log: what one batch adds to it, and how reads split a
time window between the rollup (whole hours) and the raw log (the partial hours at its ends).

Reads stay exact: a window's whole hours come from `execution_hourly`, which the writer
keeps in the statement that stores the records, and only the minutes before the first
whole hour and after the last are read from the log itself, an hour of rows at most.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.executions.record import ExecutionRecord, usd

# Latency histogram: bucket 0 holds [0, 1) ms, bucket i holds [2^((i-1)/4), 2^(i/4)) ms (a
# step of 19%), the last everything from 2^19.75 ms (about 15 minutes) up. A percentile read
# from it is within one bucket of the exact one, interpolated inside that bucket.
BUCKETS = 81
BUCKET_SQL = (
    "(CASE WHEN {ms} < 1 THEN 0 ELSE LEAST(80, floor(4 * log(2.0, {ms}::numeric)) + 1) END)::int"
)
HOUR = timedelta(hours=1)


def bucket_of(latency_ms: float) -> int:
    """The histogram bucket of a latency (as BUCKET_SQL computes it in Postgres)."""
    if latency_ms < 1:
        return 0
    return min(BUCKETS - 1, math.floor(4 * math.log2(latency_ms)) + 1)


def _bounds(bucket: int) -> tuple[float, float]:
    if bucket == 0:
        return 0.0, 1.0
    return 2 ** ((bucket - 1) / 4), 2 ** (bucket / 4)


def percentile(histogram: Sequence[int], q: float) -> float:
    """The `q` quantile (0..1) of a latency histogram, interpolated inside its bucket; 0.0
    for an empty one."""
    total = sum(histogram)
    if not total:
        return 0.0
    rank = q * total
    seen = 0
    for bucket, count in enumerate(histogram):
        if count and seen + count >= rank:
            low, high = _bounds(bucket)
            return low + (high - low) * max(rank - seen, 0) / count
        seen += count
    return _bounds(BUCKETS - 1)[0]  # pragma: no cover - rank never passes the total


def add_histograms(into: list[int], other: Sequence[int]) -> list[int]:
    """`into` plus `other`, bucket by bucket (in place)."""
    for i, count in enumerate(other):
        into[i] += count
    return into


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class _Sums:
    calls: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    attempts: int = 0
    attempt_prompt_tokens: int = 0
    attempt_completion_tokens: int = 0
    attempt_cost_usd: Decimal = Decimal(0)


@dataclass
class _Latency:
    calls: int = 0
    failed: int = 0
    cost_usd: Decimal = Decimal(0)
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)


Key = tuple[datetime, str, int, str, str]


@dataclass(frozen=True)
class Rollup:
    """What a batch adds to the two rollup tables, one row per key, sorted by key so that
    two writers lock the rows they share in the same order."""

    hourly: list[dict[str, Any]]
    latency: list[dict[str, Any]]


def rollup_rows(batch: Iterable[ExecutionRecord]) -> Rollup:
    """A batch summed per (hour, agent, version, model, source) for `execution_hourly`, and
    per (hour, agent, source) with its latency histogram for `execution_hourly_latency`."""
    sums: dict[Key, _Sums] = {}
    latency: dict[tuple[datetime, str, str], _Latency] = {}
    for record in batch:
        hour, version = hour_of(record.created_at), record.version or 0
        call = sums.setdefault(
            (hour, record.agent, version, record.model or "", record.source), _Sums()
        )
        call.calls += 1
        call.failed += record.status == "failed"
        call.prompt_tokens += record.prompt_tokens
        call.completion_tokens += record.completion_tokens
        call.cost_usd += usd(record.cost_usd)
        for attempt in record.attempts:
            if attempt.kind != "skip":
                row = sums.setdefault(
                    (hour, record.agent, version, attempt.model, record.source), _Sums()
                )
                row.attempts += 1
                row.attempt_prompt_tokens += attempt.prompt_tokens
                row.attempt_completion_tokens += attempt.completion_tokens
                row.attempt_cost_usd += usd(attempt.cost_usd)
        times = latency.setdefault((hour, record.agent, record.source), _Latency())
        times.calls += 1
        times.failed += record.status == "failed"
        times.cost_usd += usd(record.cost_usd)
        times.latency[bucket_of(record.latency_ms)] += 1
    return Rollup(
        hourly=[_row(key, sums[key]) for key in sorted(sums)],
        latency=[_latency_row(key, latency[key]) for key in sorted(latency)],
    )


def _row(key: Key, sums: _Sums) -> dict[str, Any]:
    hour, agent, version, model, source = key
    # Costs as decimal strings: exact, and Postgres reads a numeric from a JSON string.
    figures = {k: str(v) if isinstance(v, Decimal) else v for k, v in vars(sums).items()}
    return {
        "hour": hour,
        "agent": agent,
        "version": version,
        "model": model,
        "source": source,
        **figures,
    }


def _latency_row(key: tuple[datetime, str, str], sums: _Latency) -> dict[str, Any]:
    hour, agent, source = key
    return {
        "hour": hour,
        "agent": agent,
        "source": source,
        "calls": sums.calls,
        "failed": sums.failed,
        "cost_usd": str(sums.cost_usd),
        "latency": sums.latency,
    }


Range = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Window:
    """A time window split in two: `hours` (first and end hour; None is open) read from
    the rollup, and `raw` ranges (at most two, each under an hour) read from the log."""

    hours: Range | None
    raw: tuple[Range, ...]


def split(since: datetime | None, until: datetime | None) -> Window:
    """Split [since, until) into whole UTC hours and the partial hours at its ends."""
    first = None if since is None else _ceil_hour(since)
    end = None if until is None else hour_of(until)
    if first is not None and end is not None and first >= end:
        return Window(hours=None, raw=((since, until),))
    raw: list[Range] = []
    if since is not None and first != since:
        raw.append((since, first))
    if until is not None and end != until:
        raw.append((end, until))
    return Window(hours=(first, end), raw=tuple(raw))


def _ceil_hour(moment: datetime) -> datetime:
    hour = hour_of(moment)
    return hour if hour == moment else hour + HOUR
