"""Prometheus metrics: counters bumped once per finished call, gauges read at scrape time.

Counters and histograms live in the process-wide default registry (one process, one set of
series, however many apps it builds). The breaker states and the execution writer's queue
belong to one app's runtime, so a per-app collector reads them when `/metrics` is scraped:
nothing on the request path keeps them up to date.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

from app.executions.record import ExecutionRecord

_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# `source` says who called (api, mcp, job: production traffic; playground, test): filter
# on it, e.g. {source=~"api|mcp|job"}, to count production traffic only.
REQUESTS = Counter(
    "specloom_requests",
    "Calls of agents that reached the runtime, by agent, version, HTTP status and source.",
    ["agent", "version", "status", "source"],
)
REQUEST_SECONDS = Histogram(
    "specloom_request_seconds",
    "Time to answer an agent call (cache, models, repair), by agent, version, status and source.",
    ["agent", "version", "status", "source"],
    buckets=_SECONDS,
)
UPSTREAM_ATTEMPTS = Counter(
    "specloom_upstream_attempts",
    "Model calls by model and outcome (valid, schema_invalid, unparseable, timeout…).",
    ["model", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "specloom_upstream_seconds", "Latency of one model call, by model.", ["model"], buckets=_SECONDS
)
CACHE = Counter(
    "specloom_cache", "Response cache lookups of cacheable calls: hit or miss.", ["result"]
)
TOKENS = Counter(
    "specloom_tokens",
    "Tokens the models used, by model and kind (prompt, completion).",
    ["model", "kind"],
)
COST = Counter(
    "specloom_cost_usd",
    "Model spend in USD, by agent, model and source.",
    ["agent", "model", "source"],
)

# Test runs: outcomes, durations, attempts and the pass rates of cases.
TEST_RUNS = Counter(
    "specloom_test_runs",
    "Finished test runs by spec and outcome (passed, failed, error).",
    ["spec", "outcome"],
)
TEST_RUN_SECONDS = Histogram(
    "specloom_test_run_seconds",
    "Wall time of a finished test run, by spec.",
    ["spec"],
    buckets=(*_SECONDS, 120.0, 300.0, 600.0, 1800.0),
)
TEST_ATTEMPTS = Counter(
    "specloom_test_attempts",
    "Attempts (case x repeat) of test runs by spec and result (passed, failed).",
    ["spec", "result"],
)
TEST_CASE_PASS_RATE = Histogram(
    "specloom_test_case_pass_rate",
    "Pass rate of each case of a finished test run, by spec.",
    ["spec"],
    buckets=(0.0, 0.25, 0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 0.99, 1.0),
)

# Breaker states as numbers, so alerts can say `specloom_breaker_state == 2`.
BREAKER_STATES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


# labels() takes a lock and hashes the values on every call; one cached child per label set
# keeps the per-call cost to a dictionary lookup. The sizes bound the memory, not the series.
@lru_cache(maxsize=4096)
def _request(agent: str, version: str, status: str, source: str) -> tuple[Counter, Histogram]:
    return (
        REQUESTS.labels(agent, version, status, source),
        REQUEST_SECONDS.labels(agent, version, status, source),
    )


@lru_cache(maxsize=4096)
def _attempt(model: str, outcome: str) -> Counter:
    return UPSTREAM_ATTEMPTS.labels(model, outcome)


@lru_cache(maxsize=1024)
def _model(model: str) -> tuple[Histogram, Counter, Counter]:
    return (
        UPSTREAM_SECONDS.labels(model),
        TOKENS.labels(model, "prompt"),
        TOKENS.labels(model, "completion"),
    )


@lru_cache(maxsize=4096)
def _cost(agent: str, model: str, source: str) -> Counter:
    return COST.labels(agent, model, source)


def observe_call(record: ExecutionRecord, *, status: int, cached: bool) -> None:
    """Count one finished /v1 call and every model attempt it made.

    `cached` says whether the call went through the response cache (its agent's outputs
    are cacheable), so hits and misses are counted only where a hit was possible.
    """
    requests, seconds = _request(record.agent, str(record.version), str(status), record.source)
    requests.inc()
    seconds.observe(record.latency_ms / 1000)
    if cached:
        CACHE.labels(record.cache).inc()
    for attempt in record.attempts:
        if attempt.kind == "skip":
            continue  # a model passed over (breaker open, at its rate limit) was not called
        _attempt(attempt.model, attempt.outcome).inc()
        latency, prompt, completion = _model(attempt.model)
        latency.observe(attempt.latency_ms / 1000)
        if attempt.prompt_tokens:
            prompt.inc(attempt.prompt_tokens)
        if attempt.completion_tokens:
            completion.inc(attempt.completion_tokens)
        if attempt.cost_usd:
            _cost(record.agent, attempt.model, record.source).inc(attempt.cost_usd)


def observe_test_attempt(spec: str, *, passed: bool) -> None:
    """Count one attempt of a test run."""
    TEST_ATTEMPTS.labels(spec, "passed" if passed else "failed").inc()


def observe_test_run(
    spec: str, *, outcome: str, seconds: float | None, pass_rates: Iterable[float] = ()
) -> None:
    """Count one finished test run, its duration and the pass rate of each of its cases."""
    TEST_RUNS.labels(spec, outcome).inc()
    if seconds is not None:
        TEST_RUN_SECONDS.labels(spec).observe(seconds)
    rates = TEST_CASE_PASS_RATE.labels(spec)
    for rate in pass_rates:
        rates.observe(rate)


def exposition(collectors: CollectorRegistry) -> bytes:
    """The text exposition of the process-wide metrics and of one app's own gauges."""
    return generate_latest(REGISTRY) + generate_latest(collectors)
