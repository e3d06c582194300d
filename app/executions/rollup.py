"""The hourly rollup of the execution log: what one batch adds to it, and how reads split a
time window between the rollup (whole hours) and the raw log (the partial hours at its ends).

Reads stay exact: a window's whole hours come from `execution_hourly`, which the writer
keeps in the statement that stores the records, and only the minutes before the first
whole hour and after the last are read from the log itself, an hour of rows at most.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.executions.record import ExecutionRecord, usd

# Latency histogram: bucket 0 holds [0, 1) ms, bucket i holds [2^((i-1)/4), 2^(i/4)) ms (a
# step of 19%), the last everything from 2^19.75 ms (about 15 minutes) up. A percentile read
# from it is within one bucket of the exact one, interpolated inside that bucket.
BUCKETS = 81
BUCKET_SQL = "(CASE WHEN {ms} < 1 THEN 0 ELSE LEAST(80, floor(4 * ln({ms}) / ln(2)) + 1) END)::int"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)  # a UTC day: no daylight saving


def bucket_of(latency_ms: float) -> int:
    """The histogram bucket of a latency (as BUCKET_SQL computes it in Postgres)."""
    if latency_ms < 1:
        return 0
    # ln(x) / ln(2) in floating point, as BUCKET_SQL has Postgres compute it: its two-
    # argument log works in numeric, far slower, and the migration runs it once a row.
    return min(BUCKETS - 1, math.floor(4 * math.log(latency_ms) / math.log(2)) + 1)


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
    daily: list[dict[str, Any]]
    latency: list[dict[str, Any]]


def rollup_rows(batch: Iterable[ExecutionRecord]) -> Rollup:
    """A batch summed per (hour, agent, version, model, source) for `execution_hourly`, the
    same per day for `execution_daily`, and per (hour, agent, source) with its latency
    histogram for `execution_hourly_latency`."""
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
    daily: dict[Key, _Sums] = {}
    for (hour, agent, version, model, source), figures in sums.items():
        key = (day_of(hour), agent, version, model, source)
        _add_sums(daily.setdefault(key, _Sums()), figures)
    return Rollup(
        hourly=[_row("hour", key, sums[key]) for key in sorted(sums)],
        daily=[_row("day", key, daily[key]) for key in sorted(daily)],
        latency=[_latency_row(key, latency[key]) for key in sorted(latency)],
    )


def _add_sums(into: _Sums, other: _Sums) -> None:
    for name, value in vars(other).items():
        setattr(into, name, getattr(into, name) + value)


def _row(time: str, key: Key, sums: _Sums) -> dict[str, Any]:
    """A row of `execution_hourly` (`time` "hour") or `execution_daily` ("day")."""
    start, agent, version, model, source = key
    # Costs as decimal strings: exact, and Postgres reads a numeric from a JSON string.
    figures = {k: str(v) if isinstance(v, Decimal) else v for k, v in vars(sums).items()}
    return {
        time: start,
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
    """A time window in parts: whole UTC `days` (first and end day; None is open) read from
    the daily rollup, whole `hours` ranges read from the hourly one, and `raw` ranges (at
    most two, each under an hour) read from the log."""

    days: Range | None
    hours: tuple[Range, ...]
    raw: tuple[Range, ...]


def split(since: datetime | None, until: datetime | None, *, days: bool = False) -> Window:
    """Split [since, until) into whole UTC days (when `days`), whole hours, and the partial
    hours at its ends."""
    whole_hours, raw = _carve(since, until, hour_of, HOUR)
    if whole_hours is None:
        return Window(days=None, hours=(), raw=raw)
    whole_days, hours = _carve(*whole_hours, day_of, DAY) if days else (None, ())
    if whole_days is None:
        return Window(days=None, hours=(whole_hours,), raw=raw)
    return Window(days=whole_days, hours=hours, raw=raw)


def day_of(moment: datetime) -> datetime:
    """The first instant of the UTC day a moment falls in."""
    return hour_of(moment).replace(hour=0)


def _carve(
    since: datetime | None,
    until: datetime | None,
    floor: Callable[[datetime], datetime],
    unit: timedelta,
) -> tuple[Range | None, tuple[Range, ...]]:
    """[since, until) as whole units (of `floor` and `unit`) and the ragged ends."""
    first = None if since is None else _ceil(since, floor, unit)
    end = None if until is None else floor(until)
    if first is not None and end is not None and first >= end:
        return None, ((since, until),)
    ends: list[Range] = []
    if since is not None and first != since:
        ends.append((since, first))
    if until is not None and end != until:
        ends.append((end, until))
    return (first, end), tuple(ends)


def _ceil(moment: datetime, floor: Callable[[datetime], datetime], unit: timedelta) -> datetime:
    down = floor(moment)
    return down if down == moment else down + unit
