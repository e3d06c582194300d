"""The serving gauges `/metrics` reads when scraped: breaker states and pending executions."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.datastructures import State

from app.observability.metrics import BREAKER_STATES
from app.serving.context import Runtime


class RuntimeCollector(Collector):
    """Gauges of one app's runtime, read when scraped: breaker states and pending executions."""

    def __init__(self, state: State) -> None:
        self._state = state  # the app's state: its runtime is replaced when the app restarts

    def collect(self) -> Iterable[Metric]:
        runtime: Runtime | None = getattr(self._state, "runtime", None)
        if runtime is None:
            return
        breakers = GaugeMetricFamily(
            "specloom_breaker_state",
            "Circuit breaker of each model deployment seen: 0 closed, 1 half-open, 2 open.",
            labels=["deployment"],
        )
        if runtime.services.breakers is not None:
            for view in runtime.services.breakers.snapshot():
                breakers.add_metric([view.deployment], BREAKER_STATES[view.state])
        yield breakers
        yield GaugeMetricFamily(
            "specloom_executions_pending",
            "Execution records waiting for the background writer.",
            value=runtime.writer.pending,
        )
        yield CounterMetricFamily(
            "specloom_executions_set_aside",
            "Execution records the writer could not store and kept in dead_letter instead.",
            value=runtime.writer.set_aside,
        )
