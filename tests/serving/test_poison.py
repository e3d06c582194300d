"""One bad record never stops the others: refused at the edge, set aside by the writer."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.core.setting_groups import WriterSettings
from app.executions.record import AttemptRecord, ExecutionRecord
from app.executions.writer import ExecutionWriter
from tests.fakes.upstream import FakeUpstream, Text, Valid
from tests.serving.conftest import execution, live_agent
from tests.serving.test_metrics import scrape, value

# A lone surrogate, JSON-escaped and as the UTF-8 bytes `json.loads` lets through.
ESCAPED = b'{"subject": 5, "body": "\\ud800"}'
RAW_BYTES = b'{"subject": "s", "body": "x\xed\xa0\x80"}'
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("url", "body", "pointer"),
    [
        ("/v1/agents/ticket-triage", ESCAPED, "/body"),
        ("/v1/agents/ticket-triage", RAW_BYTES, "/body"),
        ("/v1/agents/ticket-triage", b'{"subject": "s", "body": "b", "\\udfff": 1}', "/\\udfff"),
        (
            "/v1/agents/ticket-triage/jobs",
            b'{"input": {"subject": "s", "body": "\\uDBFF"}}',
            "/input/body",
        ),
        (
            "/api/specs",
            b'{"document": {"name": "x", "rules": ["a", "\\ud800"]}}',
            "/document/rules/1",
        ),
        ("/api/keys", b'{"name": "\\ud800", "scopes": ["invoke"]}', "/name"),
    ],
)
async def test_lone_surrogates_are_refused_at_the_edge_with_a_pointer(
    api: httpx.AsyncClient, url: str, body: bytes, pointer: str
) -> None:
    await live_agent(api, model={"name": "fast"})
    response = await api.post(url, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "lone surrogate" in problem["detail"]
    assert problem["errors"][0]["pointer"] == pointer


async def test_a_valid_surrogate_pair_is_still_accepted(api: httpx.AsyncClient) -> None:
    await live_agent(api, model={"name": "fast"})
    pair = b'{"subject": "s", "body": "emoji \\ud83d\\ude00 and \\\\ud800 as text"}'
    response = await api.post("/v1/agents/ticket-triage", content=pair, headers=JSON)
    assert response.status_code == 200, response.text


async def test_nul_is_refused_with_a_pointer(api: httpx.AsyncClient) -> None:
    await live_agent(api, model={"name": "fast"})
    response = await api.post("/v1/agents/ticket-triage", json={"subject": "s", "body": "a\x00"})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"pointer": "/body", "message": "strings may not contain NUL (\\u0000)"}
    ]


async def test_a_poisoned_request_leaves_nothing_pending(
    serving_app: FastAPI, api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, model={"name": "fast"})
    poisoned = await api.post("/v1/agents/ticket-triage", content=ESCAPED, headers=JSON)
    assert poisoned.status_code == 422
    good = await api.post("/v1/agents/ticket-triage", json={"subject": "s", "body": "b"})
    assert good.status_code == 200, good.text
    execution_id = good.headers["X-Specloom-Execution-Id"]
    async with asyncio.timeout(1.0):  # the call's record is readable at once, not stuck behind
        read = await api.get(f"/v1/executions/{execution_id}")
    assert read.status_code == 200
    pending = [value(await scrape(api), "specloom_executions_pending")]
    for _ in range(50):  # within a second
        if not pending[-1]:
            break
        await asyncio.sleep(0.02)
        pending.append(value(await scrape(api), "specloom_executions_pending"))
    assert pending[-1] == 0


def _record(agent: str, text: str, cost: float = 0.01) -> ExecutionRecord:
    record = ExecutionRecord(
        id=uuid.uuid4(),
        agent=agent,
        version=1,
        input={"body": text},
        created_at=datetime.now(UTC),
        request_id=None,
        status="succeeded",
        output={"ok": True},
    )
    record.attempts.append(AttemptRecord(1, "ask", "m", "valid", 1.0, raw_text=text, cost_usd=cost))
    return record


async def test_the_writer_sets_a_bad_record_aside_and_writes_the_rest(database_url: str) -> None:
    engine = create_async_engine(database_url)
    writer = ExecutionWriter(async_sessionmaker(engine), config=WriterSettings(batch_size=50))
    records = [_record("a", f"fine {i}") for i in range(7)]
    bad = [_record("a", "lone \ud800"), _record("a", "nul \x00")]
    batch = [*records[:3], bad[0], *records[3:5], bad[1], *records[5:]]
    writer.start()
    try:
        for record in batch:
            writer.submit(record)
        async with asyncio.timeout(5):
            for record in batch:
                assert await writer.wait_written(record.id)
        assert writer.pending == 0
        assert writer.set_aside == 2
        # The next record goes through as usual.
        late = _record("a", "after")
        writer.submit(late)
        assert await writer.wait_written(late.id)
    finally:
        await writer.stop()
        await engine.dispose()
    plain = database_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM execution")}
        dead = conn.execute("SELECT record_id, kind, payload, error FROM dead_letter").fetchall()
        spent = conn.execute("SELECT spent_usd FROM spend WHERE scope_key = 'agent:a'").fetchone()
    assert stored == {r.id for r in [*records, late]}
    assert {row[0] for row in dead} == {r.id for r in bad}
    assert all(row[1] == "execution" for row in dead)
    assert any("\\ud800" in row[2] for row in dead)
    # Every call's spend is counted, those set aside included: budgets stay exact.
    assert spent is not None
    assert float(spent[0]) == pytest.approx(0.01 * 10)


async def test_record_waits_and_stops_are_bounded_when_the_database_is_gone() -> None:
    # Nothing listens on this socket directory: every write fails as unreachable.
    engine = create_async_engine("postgresql+psycopg://postgres@/nowhere?host=/nonexistent")
    config = WriterSettings(flush_interval_s=0.01, stop_timeout_s=0.5)
    writer = ExecutionWriter(async_sessionmaker(engine), config=config)
    writer.start()
    record = _record("a", "stuck")
    writer.submit(record)
    started = time.monotonic()
    assert await writer.wait_written(record.id, timeout_s=0.2) is False
    await writer.stop()
    assert time.monotonic() - started < 2.0
    assert writer.pending == 1  # kept (and logged as lost), never set aside as bad
    assert writer.set_aside == 0
    await engine.dispose()


async def test_a_model_answer_with_a_lone_surrogate_is_not_answered(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api, model={"name": "fast"})
    poisoned = '{"team": "billing", "priority": "normal", "summary": "\\ud800"}'
    upstream.script(Text(poisoned), Text(poisoned), model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json={"subject": "s", "body": "b"})
    assert response.status_code == 502, response.text  # never a 500: an invalid answer
    record = await execution(api, response)
    # The same text sent back after the re-ask stops the model at once.
    assert [a["outcome"] for a in record["attempts"]] == ["schema_invalid", "repeated"]
    assert record["attempts"][0]["issues"][0]["pointer"] == "/summary"


async def test_a_lone_surrogate_in_a_key_of_the_answer_is_not_answered(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """A key that is not Unicode text: the re-ask names it by its escape, the call ends in a
    recorded 502, and the connection serves the next call."""
    await live_agent(api, model={"name": "fast"}, output_schema={"type": "object"})
    upstream.script(Text('{"\\ud800": 1}'), Text('{"k": {"\\udc00x": "y"}}'), model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json={"subject": "s", "body": "b"})
    assert response.status_code == 502, response.text
    record = await execution(api, response)
    pointers = [a["issues"][0]["pointer"] for a in record["attempts"]]
    assert pointers == ["/\\ud800", "/k/\\udc00x"]
    reask = upstream.requests[1].body["messages"][-1]["content"]
    assert "\\ud800" in reask
    upstream.script(Text('{"fine": 1}'), model="fake-fast")
    again = await api.post("/v1/agents/ticket-triage", json={"subject": "s2", "body": "b"})
    assert again.status_code == 200, again.text


async def test_nul_in_an_answer_is_not_answered_and_the_call_is_recorded(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """NUL cannot be stored: an answer holding one is invalid (re-asked, then 502), so the
    call is never a 200 whose record goes missing."""
    await live_agent(api, model={"name": "fast"})
    nul = '{"team": "billing", "priority": "normal", "summary": "a\\u0000b"}'
    good = {"team": "billing", "priority": "normal", "summary": "ab"}
    upstream.script(Text(nul), Valid(good), model="fake-fast")
    response = await api.post("/v1/agents/ticket-triage", json={"subject": "s", "body": "b"})
    assert response.status_code == 200, response.text
    assert response.json() == good
    record = await execution(api, response)
    assert [a["outcome"] for a in record["attempts"]] == ["schema_invalid", "valid"]
    assert record["attempts"][0]["issues"][0]["pointer"] == "/summary"


async def test_records_set_aside_can_be_read_back(
    serving_app: FastAPI, api: httpx.AsyncClient
) -> None:
    writer: ExecutionWriter = serving_app.state.runtime.writer
    bad = _record("ticket-triage", "lone \ud800")
    writer.submit(bad)
    assert await writer.wait_written(bad.id)
    listed = await api.get("/api/dead-letters")
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert item["record_id"] == str(bad.id)
    assert item["kind"] == "execution"
    assert "\\ud800" in item["payload"]
    assert "UnicodeEncodeError" in item["error"] or "surrogate" in item["error"]
