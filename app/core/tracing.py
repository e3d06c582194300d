"""OpenTelemetry traces: a span per /v1 request, per model call and per execution batch write.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set:
then spans go over OTLP/HTTP in batches, configured by the standard `OTEL_*` variables
(`OTEL_SERVICE_NAME`, `OTEL_EXPORTER_OTLP_HEADERS`…). Off, every span is the API's no-op
span: no allocation beyond the call, nothing recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.util.types import AttributeValue

_tracer: trace.Tracer = trace.NoOpTracer()
_provider: TracerProvider | None = None

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def provider_from_env(env: Mapping[str, str]) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP when an endpoint is configured, else None."""
    if not any(env.get(name) for name in ENDPOINT_VARIABLES):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "specloom")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def configure_tracing() -> None:
    """Turn tracing on once per process when the environment asks for it."""
    global _provider
    if _provider is not None:
        return
    _provider = provider_from_env(os.environ)
    if _provider is not None:
        trace.set_tracer_provider(_provider)
        use_tracer(_provider.get_tracer("specloom"))


def use_tracer(tracer: trace.Tracer) -> None:
    """Record spans with `tracer` from now on (tests pass one with an in-memory exporter)."""
    global _tracer
    _tracer = tracer


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[trace.Span]:
    """A span, child of the current one, around the block (errors are recorded on it)."""
    with _tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current
