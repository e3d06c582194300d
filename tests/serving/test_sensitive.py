"""Sensitive fields stay out of storage and logs; provider keys never leave the environment."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import structlog

from app.core.logging import configure_logging
from tests.fakes.upstream import FakeUpstream, Status, Text, Valid
from tests.security.test_keys import dump_database
from tests.serving.conftest import execution, live_agent

SSN = "SSN-SECRET-987-65-4321"
NOTE = "TOPSECRET-OUT-NOTE-123"
PROVIDER_KEY = "sk-fake-provider-key"  # what serving_settings puts in FAKE_PROVIDER_KEY

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "subject": {"type": "string"},
        "body": {"type": "string"},
        "ssn": {"type": "string", "maxLength": 30, "x-sensitive": True},
    },
    "required": ["subject", "body"],
}
OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "team": {"enum": ["billing", "technical", "sales", "security"]},
        "priority": {"enum": ["low", "normal", "high", "urgent"]},
        "summary": {"type": "string"},
        "note": {"$ref": "#/$defs/secret"},
    },
    "required": ["team", "priority", "summary", "note"],
    "additionalProperties": False,
    "$defs": {"secret": {"type": "string", "x-sensitive": True}},
}
ANSWER = {"team": "billing", "priority": "low", "summary": "ok", "note": NOTE}


@contextmanager
def captured_logs(*debug: str) -> Iterator[io.StringIO]:
    """Every log line while open: structlog events at DEBUG, stdlib logs at DEBUG for the root
    and the `debug` loggers (others keep the levels the app gives them)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *debug)}
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    root.addHandler(handler)
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(file=buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        configure_logging()


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    """Logs as the product emits them at SPECLOOM_LOG_LEVEL=DEBUG.

    litellm stays at the WARNING the app pins it to: at DEBUG litellm logs whole requests,
    inputs included, which is one more reason it is pinned.
    """
    with captured_logs() as buffer:
        yield buffer


@pytest.fixture
def verbose_logs() -> Iterator[io.StringIO]:
    """Logs with litellm, the openai SDK and httpx at DEBUG too: stricter than the product runs."""
    with captured_logs("LiteLLM", "litellm", "openai", "httpx", "httpcore") as buffer:
        yield buffer


async def _sensitive_agent(api: httpx.AsyncClient) -> None:
    await live_agent(
        api,
        "vault",
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
        examples=[],
        # The response cache keeps whole outputs (it must hand them back): off for this spec.
        model={"name": "fast", "temperature": 0, "cache": False},
    )


async def test_sensitive_values_are_redacted_in_executions_db_and_logs(
    api: httpx.AsyncClient,
    upstream: FakeUpstream,
    database_url: str,
    all_logs: io.StringIO,
) -> None:
    await _sensitive_agent(api)
    structlog.get_logger("probe").info("probe", value="[redacted]")
    upstream.script(Text(f"Sure! ```json\n{ANSWER}\n``` for {SSN}"), Valid(ANSWER))
    payload = {"subject": "s", "body": "b", "ssn": SSN}
    response = await api.post("/v1/agents/vault", json=payload)
    assert response.status_code == 200, response.text
    assert response.json()["note"] == NOTE  # the caller gets everything

    record = await execution(api, response)
    assert record["input"] == {"subject": "s", "body": "b", "ssn": "[redacted]"}
    assert record["output"]["note"] == "[redacted]"
    assert record["output"]["summary"] == "ok"
    assert record["attempts"]
    assert all(a.get("raw_text") is None for a in record["attempts"])

    too_long = await api.post("/v1/agents/vault", json={**payload, "ssn": SSN + "-" + SSN})
    assert too_long.status_code == 422
    failed = await execution(api, too_long)
    assert SSN not in str(failed)

    dump = dump_database(database_url)
    logs = all_logs.getvalue()
    assert "probe" in logs  # the capture works
    for secret in (SSN, NOTE):
        assert secret not in dump
        assert secret not in logs
    assert "[redacted]" in dump


async def test_raw_text_is_kept_and_scrubbed_when_only_inputs_are_sensitive(
    api: httpx.AsyncClient, upstream: FakeUpstream, database_url: str
) -> None:
    output_schema = {**OUTPUT_SCHEMA, "$defs": {"secret": {"type": "string"}}}
    await live_agent(
        api,
        "vault",
        input_schema=INPUT_SCHEMA,
        output_schema=output_schema,
        examples=[],
        model={"name": "fast", "temperature": 0, "cache": False},
    )
    upstream.script(Text(f"not json, echoing {SSN}"), Valid(ANSWER))
    response = await api.post("/v1/agents/vault", json={"subject": "s", "body": "b", "ssn": SSN})
    assert response.status_code == 200, response.text
    record = await execution(api, response)
    texts = [a.get("raw_text") for a in record["attempts"]]
    assert "not json, echoing [redacted]" in texts
    assert record["output"]["note"] == NOTE
    assert SSN not in dump_database(database_url)


async def test_provider_keys_are_never_stored_logged_or_echoed(
    api: httpx.AsyncClient,
    upstream: FakeUpstream,
    database_url: str,
    verbose_logs: io.StringIO,
) -> None:
    await live_agent(api)
    upstream.script(Status(401), Status(500), Text("{broken"), Valid())
    bodies = []
    for _ in range(3):
        response = await api.post("/v1/agents/ticket-triage", json={"subject": "a", "body": "b"})
        bodies.append(response.text)
        if response.headers.get("x-specloom-execution-id"):
            bodies.append(str(await execution(api, response)))
    bodies.append((await api.get("/api/models")).text)
    logs = verbose_logs.getvalue()
    assert "fake-fast" in logs  # litellm's debug log of the calls was captured
    assert upstream.calls() >= 3  # the key was really sent upstream on every call
    for place, text in [
        ("responses", "\n".join(bodies)),
        ("database", dump_database(database_url)),
        ("logs", logs),
    ]:
        assert PROVIDER_KEY not in text, f"the provider key leaked into the {place}"
