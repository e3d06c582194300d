"""The fake OpenAI-compatible upstream: real HTTP, scripted behaviours, and litellm on top."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import litellm
import pytest
from jsonschema import Draft202012Validator
from litellm.exceptions import InternalServerError, RateLimitError, Timeout

from tests.fakes.upstream import (
    Delay,
    FakeUpstream,
    Hang,
    Status,
    Text,
    Valid,
    running_upstream,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "team": {"enum": ["billing", "technical", "sales"]},
        "when": {"type": "string", "format": "date"},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["team", "when", "score"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "out", "schema": SCHEMA}}
MESSAGES = [{"role": "user", "content": 'Answer.\n<input>{"q": 1}</input>'}]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeUpstream]:
    """One server for the module: starting uvicorn per test would dominate the run time."""
    with running_upstream() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeUpstream) -> FakeUpstream:
    """The module's server with no script and no recorded requests."""
    server.reset()
    return server


def chat_body(model: str = "m", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **extra}


async def post(fake: FakeUpstream, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fake.base_url, **kwargs) as http:
        return await http.post("/chat/completions", json=body)


async def test_valid_answer_has_the_openai_shape(fake: FakeUpstream) -> None:
    response = await post(fake, chat_body("gpt-x", response_format=RESPONSE_FORMAT))

    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt-x"
    assert data["id"].startswith("chatcmpl-")
    assert isinstance(data["created"], int)
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    content = json.loads(data["choices"][0]["message"]["content"])
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        content
    )


async def test_both_paths_answer(fake: FakeUpstream) -> None:
    async with httpx.AsyncClient() as http:
        root = fake.base_url.removesuffix("/v1")
        for url in (f"{root}/v1/chat/completions", f"{root}/chat/completions"):
            assert (await http.post(url, json=chat_body())).status_code == 200
        assert (await http.post(f"{root}/v1/embeddings", json={})).status_code == 404
    assert fake.calls() == 2


async def test_requests_are_recorded(fake: FakeUpstream) -> None:
    before = time.monotonic()
    await post(fake, chat_body("a"), headers={"Authorization": "Bearer sk-x"})

    [request] = fake.requests
    assert request.model == "a"
    assert request.body == chat_body("a")
    assert request.headers["authorization"] == "Bearer sk-x"
    assert before <= request.received_at <= time.monotonic()
    assert request.behaviour == Valid()


async def test_scripts_are_consumed_in_order_then_default(fake: FakeUpstream) -> None:
    fake.script(Text("not json"), Valid({"x": 1}), Status(503))

    contents = []
    for _ in range(4):
        response = await post(fake, chat_body())
        contents.append(
            response.status_code
            if response.status_code != 200
            else response.json()["choices"][0]["message"]["content"]
        )

    assert contents[:3] == ["not json", '{"x": 1}', 503]
    assert json.loads(str(contents[3])) == {}  # default: valid, no schema given → {}
    assert [r.behaviour for r in fake.requests] == [
        Text("not json"),
        Valid({"x": 1}),
        Status(503),
        Valid(),
    ]


async def test_scripts_per_model(fake: FakeUpstream) -> None:
    fake.script(Status(500), model="a")
    fake.script(Text("unscoped"))

    b = await post(fake, chat_body("b"))
    a = await post(fake, chat_body("a"))
    a_again = await post(fake, chat_body("a"))

    assert b.json()["choices"][0]["message"]["content"] == "unscoped"
    assert a.status_code == 500
    assert a_again.status_code == 200
    assert (fake.calls("a"), fake.calls("b"), fake.calls()) == (2, 1, 3)


async def test_default_can_be_changed_and_reset(fake: FakeUpstream) -> None:
    fake.default = Status(502)
    assert (await post(fake, chat_body())).status_code == 502
    assert fake.requests[0].behaviour == Status(502)
    fake.script(Valid())
    fake.reset()
    assert fake.calls() == 0
    assert fake.requests == []
    assert (await post(fake, chat_body())).status_code == 200


async def test_status_with_body_and_headers(fake: FakeUpstream) -> None:
    fake.script(Status(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"}))
    response = await post(fake, chat_body())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"error": {"message": "slow down"}}


async def test_hang_trips_a_client_timeout(fake: FakeUpstream) -> None:
    fake.script(Hang(5))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await post(fake, chat_body(), timeout=0.3)
    assert time.monotonic() - started < 2


async def test_delay_then_behaviour(fake: FakeUpstream) -> None:
    fake.script(Delay(0.3, Text("late")))
    started = time.monotonic()
    response = await post(fake, chat_body())
    assert time.monotonic() - started >= 0.3
    assert response.json()["choices"][0]["message"]["content"] == "late"


async def test_bad_body_is_a_400(fake: FakeUpstream) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        response = await http.post("/chat/completions", content=b"{nope")
    assert response.status_code == 400
    assert fake.calls() == 0


async def test_keep_alive_reuses_the_connection(fake: FakeUpstream) -> None:
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        for _ in range(3):
            await http.post("/chat/completions", json=chat_body())
    assert len({r.peer for r in fake.requests}) == 1


async def test_a_thousand_requests_in_flight(fake: FakeUpstream) -> None:
    # Every request sleeps 0.5 s at the server: they only finish in time if all are in flight.
    # aiohttp, not httpx, as the client: httpx's pool is slow with a thousand connections.
    fake.default = Delay(0.5, Valid({"ok": True}))
    url = f"{fake.base_url}/chat/completions"
    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000)) as http:

        async def one() -> int:
            async with http.post(url, json=chat_body()) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one() for _ in range(1000)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 1000
    assert fake.calls() == 1000
    assert len({r.peer for r in fake.requests}) > 500  # many connections, not a queue
    assert elapsed < 10


async def litellm_call(fake: FakeUpstream, **extra: Any) -> Any:
    return await litellm.acompletion(
        model="openai/whatever",
        api_base=fake.base_url,
        api_key="sk-fake",
        messages=MESSAGES,
        num_retries=0,
        max_retries=0,
        **extra,
    )


async def test_litellm_talks_to_the_fake(fake: FakeUpstream) -> None:
    response = await litellm_call(fake, response_format=RESPONSE_FORMAT)

    content = json.loads(response.choices[0].message.content)
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        content
    )
    assert response.usage.total_tokens > 0
    [request] = fake.requests
    assert request.model == "whatever"
    assert request.headers["authorization"] == "Bearer sk-fake"
    assert request.body["response_format"]["json_schema"]["schema"] == SCHEMA


async def test_litellm_sees_a_429_with_retry_after(fake: FakeUpstream) -> None:
    fake.script(Status(429, headers={"Retry-After": "1"}))
    with pytest.raises(RateLimitError) as caught:
        await litellm_call(fake)
    assert caught.value.status_code == 429
    # litellm keeps the upstream's headers here (its `response` is a synthetic one).
    assert getattr(caught.value, "litellm_response_headers", {})["retry-after"] == "1"
    assert fake.calls() == 1  # no retries behind our back


async def test_litellm_sees_a_500(fake: FakeUpstream) -> None:
    fake.script(Status(500))
    with pytest.raises(InternalServerError) as caught:
        await litellm_call(fake)
    assert caught.value.status_code == 500
    assert fake.calls() == 1


async def test_litellm_times_out_on_a_hang(fake: FakeUpstream) -> None:
    fake.script(Hang(5))
    with pytest.raises(Timeout):
        await litellm_call(fake, timeout=0.3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_runs_as_a_process_with_latency() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", "--port", str(port), "--latency-ms", "200"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in line
        started = time.monotonic()
        response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=chat_body())
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.2
    finally:
        process.terminate()
        process.wait(timeout=10)
