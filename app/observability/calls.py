"""The end of one /v1 call as operators see it: its metrics and its one summary log line."""

from __future__ import annotations

import structlog
from opentelemetry import trace

from app.executions.record import ExecutionRecord
from app.observability.metrics import observe_call

log = structlog.get_logger("specloom.calls")


def record_call(record: ExecutionRecord, *, status: int, cached: bool) -> None:
    """Count the call in the metrics and log one line saying how it went.

    The request id, agent and version come from the bound log context; the line adds what
    only the finished record knows.
    """
    observe_call(record, status=status, cached=cached)
    trace.get_current_span().set_attributes(
        {
            "specloom.execution_id": str(record.id),
            "http.response.status_code": status,
            "specloom.cache": record.cache,
        }
    )
    log.info(
        "call finished",
        execution_id=str(record.id),
        status=status,
        outcome=record.status,
        latency_ms=round(record.latency_ms, 2),
        cost_usd=round(record.cost_usd, 8),
        model=record.model,
        cache=record.cache,
        attempts=len(record.attempts),
    )
