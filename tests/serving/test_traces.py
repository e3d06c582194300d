"""Traces: a span per /v1 request with one child per model call, and one per batch write."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.core import tracing
from tests.fakes.upstream import FakeUpstream, Status, Text, Valid
from tests.serving.conftest import ApiFactory, execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Charged twice"}
MODEL = "openai/fake-fast"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans recorded in memory for the test (tracing is off otherwise)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer(provider.get_tracer("test"))
    yield exporter
    tracing.use_tracer(trace.NoOpTracer())
    provider.shutdown()


async def test_request_span_has_a_child_per_model_call(
    api: httpx.AsyncClient, upstream: FakeUpstream, spans: InMemorySpanExporter
) -> None:
    await live_agent(api, "traced-triage")
    upstream.script(Text("no JSON here"), Valid(GOOD), model="fake-fast")
    response = await api.post("/v1/agents/traced-triage", json=INPUT)
    assert response.status_code == 200, response.text
    await execution(api, response)  # waits for the writer's batch

    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.name == "POST /v1/agents/{name}"]
    assert request.parent is None
    attributes = dict(request.attributes or {})
    assert attributes["specloom.agent"] == "traced-triage"
    assert attributes["specloom.version"] == 1
    assert attributes["specloom.execution_id"] == response.headers["x-specloom-execution-id"]
    assert attributes["http.response.status_code"] == 200

    calls = [s for s in finished if s.name == f"chat {MODEL}"]
    assert [dict(s.attributes or {})["specloom.attempt"] for s in calls] == ["ask", "reask"]
    for call in calls:
        assert call.parent is not None
        assert call.parent.span_id == request.context.span_id
        assert call.context.trace_id == request.context.trace_id
        tokens = dict(call.attributes or {})["gen_ai.usage.input_tokens"]
        assert isinstance(tokens, int)
        assert tokens > 0

    writes = [s for s in finished if s.name == "write executions"]
    assert writes
    assert all(dict(s.attributes or {})["specloom.batch_size"] == 1 for s in writes)


async def test_a_failed_model_call_is_an_error_span(
    make_api: ApiFactory, upstream: FakeUpstream, spans: InMemorySpanExporter
) -> None:
    async with make_api() as api:
        await live_agent(api, "traced-outage")
        upstream.script(Status(500), model="fake-fast")
        response = await api.post("/v1/agents/traced-outage", json=INPUT)
    assert response.status_code == 503
    [call] = [s for s in spans.get_finished_spans() if s.name == f"chat {MODEL}"]
    assert call.status.status_code == trace.StatusCode.ERROR
    assert [event.name for event in call.events] == ["exception"]


def test_tracing_is_off_without_an_endpoint() -> None:
    assert tracing.provider_from_env({}) is None
    with tracing.span("anything") as current:
        assert not current.is_recording()
    provider = tracing.provider_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "specloom"
    provider.shutdown()
