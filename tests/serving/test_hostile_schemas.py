"""Schemas a user brings cannot hurt the server: a remote reference is a 422 with a pointer
(nothing is fetched), and a catastrophic-backtracking pattern is checked in linear time while
the server keeps answering."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.factories import make_document
from tests.serving.conftest import live_agent

HOSTILE_INPUT = {
    "type": "object",
    "properties": {"subject": {"type": "string", "pattern": "^(a+)+$"}, "body": {"type": "string"}},
    "required": ["subject", "body"],
}


async def test_a_remote_ref_is_refused_with_a_pointer(api: httpx.AsyncClient) -> None:
    output = make_document()["output_schema"]
    output["properties"]["team"] = {"$ref": "http://169.254.169.254/latest/meta-data"}
    response = await api.post("/api/specs", json={"document": make_document(output_schema=output)})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["pointer"] == "/document/output_schema/properties/team/$ref"
    assert "inline" in error["message"]


async def test_the_server_keeps_answering_while_a_hostile_pattern_is_checked(
    api: httpx.AsyncClient,
) -> None:
    await live_agent(api, input_schema=HOSTILE_INPUT, examples=[], tests=[])
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def hostile_calls() -> list[int]:
        statuses = []
        for size in (41, 1_000, 20_000):
            body = {"subject": "a" * size + "!", "body": "x"}
            statuses.append((await api.post("/v1/agents/ticket-triage", json=body)).status_code)
        return statuses

    tick = asyncio.create_task(ticker())
    statuses, health = await asyncio.gather(hostile_calls(), api.get("/healthz"))
    done.set()
    await tick
    assert statuses == [422, 422, 422]
    assert health.status_code == 200
    assert max(gaps) < 1.0, max(gaps)
