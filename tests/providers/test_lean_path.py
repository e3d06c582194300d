"""The lean path and litellm on the same cases: same request body, reply, cost and failure.

Each case runs `call_model` twice against the fake upstream: once through litellm (a
deployment with `lean=False`) and once through app/providers/openai_http.py. Whatever the caller or
the execution log can see must be equal.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from app.providers import openai_http
from app.providers.base import ModelCallFailed, ModelReply
from app.providers.catalog import Deployment
from app.providers.llm import call_model
from app.providers.pricing import plain_price
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    Hang,
    Status,
    Text,
    Valid,
    running_upstream,
)

KEY_ENV = "LEAN_TEST_PROVIDER_KEY"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"team": {"enum": ["billing", "sales"]}, "n": {"type": "integer"}},
    "required": ["team", "n"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "out", "schema": SCHEMA, "strict": True},
}
MESSAGES = [
    {"role": "system", "content": "Triage."},
    {"role": "user", "content": '<input>{"subject": "refund"}</input>'},
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeUpstream]:
    with running_upstream() as fake:
        yield fake


@pytest.fixture(autouse=True)
async def close_lean_client() -> AsyncIterator[None]:
    yield
    await openai_http.close()


@pytest.fixture
def fake(server: FakeUpstream, monkeypatch: pytest.MonkeyPatch) -> FakeUpstream:
    monkeypatch.setenv(KEY_ENV, "sk-lean-test")
    server.reset()
    return server


def deployment(fake: FakeUpstream, model: str = "openai/gpt-4o-mini", **kw: Any) -> Deployment:
    return Deployment(alias="fast", model=model, api_base=fake.base_url, api_key_env=KEY_ENV, **kw)


Outcome = tuple[dict[str, Any], ModelReply | ModelCallFailed]


async def both(
    fake: FakeUpstream, target: Deployment, behaviour: Behaviour, **call: Any
) -> tuple[Outcome, Outcome]:
    """(litellm, lean): the body each sent and what `call_model` gave back."""
    assert openai_http.eligible(target), "the case must be one the lean path takes"
    results = []
    for path in (replace(target, lean=False), target):
        fake.script(behaviour)
        before = len(fake.requests)
        kwargs: dict[str, Any] = {"response_format": RESPONSE_FORMAT, "timeout_s": 5.0, **call}
        try:
            outcome: ModelReply | ModelCallFailed = await call_model(path, MESSAGES, **kwargs)
        except ModelCallFailed as failure:
            outcome = failure
        assert len(fake.requests) == before + 1
        results.append((fake.requests[-1].body, outcome))
    return results[0], results[1]


def seen(outcome: ModelReply | ModelCallFailed) -> dict[str, Any]:
    """What the runtime uses of a reply or a failure (not latency, not message wording)."""
    if isinstance(outcome, ModelCallFailed):
        return {
            "kind": outcome.kind,
            "status": outcome.status,
            "retry_after_s": outcome.retry_after_s,
            "transient": outcome.transient,
        }
    return {
        "text": outcome.text,
        "model": outcome.model,
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "cost_usd": round(outcome.cost_usd, 15),
    }


@dataclass(frozen=True)
class Case:
    name: str
    behaviour: Behaviour
    call: dict[str, Any]


CASES = [
    Case("valid, schema, temperature, max_tokens", Valid(), {"temperature": 0, "max_tokens": 64}),
    Case("valid, no optional parameters", Valid({"team": "sales", "n": 2}), {}),
    Case("fenced text", Text('```json\n{"team": "billing", "n": 1}\n```'), {"temperature": 0.7}),
    Case("empty content", Text(""), {}),
    Case("429 with Retry-After", Status(429, headers={"Retry-After": "3"}), {}),
    Case("429 without Retry-After", Status(429), {}),
    *(Case(f"HTTP {code}", Status(code), {}) for code in (400, 401, 403, 404, 409, 422)),
    *(Case(f"HTTP {code}", Status(code), {}) for code in (408, 500, 502, 503, 504, 529)),
    Case("error body not JSON", Status(500, body={"detail": "boom"}), {}),
    Case("200 without choices", Status(200, body={"id": "x", "object": "chat.completion"}), {}),
    Case(
        "200 without usage",
        Status(
            200,
            body={
                "id": "x",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "{}"},
                        "finish_reason": "stop",
                    }
                ],
            },
        ),
        {},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_lean_path_matches_litellm(fake: FakeUpstream, case: Case) -> None:
    (litellm_body, through_litellm), (lean_body, through_lean) = await both(
        fake, deployment(fake), case.behaviour, **case.call
    )
    assert lean_body == litellm_body
    assert seen(through_lean) == seen(through_litellm)


def usage_reply(model: str, prompt: int, completion: int, cached: int) -> Status:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return Status(
        200,
        body={
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "{}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        },
    )


@pytest.mark.parametrize(
    ("model", "prompt", "completion", "cached"),
    [
        ("openai/gpt-4o-mini", 1200, 80, 0),
        ("openai/gpt-4o-mini", 1200, 80, 1024),
        ("openai/gpt-4o", 5000, 700, 2048),
        ("openai/gpt-4.1", 300, 20, 0),
        ("openai/gpt-3.5-turbo", 300, 20, 100),
        ("openai/bench-model-unknown-to-the-map", 300, 20, 0),
    ],
)
async def test_cost_from_the_bundled_map_matches_litellm(
    fake: FakeUpstream, model: str, prompt: int, completion: int, cached: int
) -> None:
    (_, through_litellm), (_, through_lean) = await both(
        fake, deployment(fake, model), usage_reply(model, prompt, completion, cached)
    )
    assert isinstance(through_litellm, ModelReply)
    assert isinstance(through_lean, ModelReply)
    assert math.isclose(through_lean.cost_usd, through_litellm.cost_usd, rel_tol=1e-9)
    assert seen(through_lean) == seen(through_litellm)


async def test_prices_from_the_models_file_win_on_both_paths(fake: FakeUpstream) -> None:
    target = deployment(fake, input_cost_per_token=0.001, output_cost_per_token=0.002)
    (_, through_litellm), (_, through_lean) = await both(
        fake, target, usage_reply("gpt-4o-mini", 10, 5, 0)
    )
    assert isinstance(through_lean, ModelReply)
    assert through_lean.cost_usd == pytest.approx(0.02)
    assert seen(through_lean) == seen(through_litellm)


async def test_timeout_is_the_same_failure(fake: FakeUpstream) -> None:
    (_, through_litellm), (_, through_lean) = await both(
        fake, deployment(fake), Hang(1.0), timeout_s=0.2
    )
    assert (
        seen(through_lean)
        == seen(through_litellm)
        == {
            "kind": "timeout",
            "status": None,
            "retry_after_s": None,
            "transient": True,
        }
    )


async def test_refused_connection_is_the_same_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-lean-test")
    target = Deployment(
        alias="fast", model="openai/x", api_base="http://127.0.0.1:9/v1", api_key_env=KEY_ENV
    )
    outcomes = []
    for path in (replace(target, lean=False), target):
        with pytest.raises(ModelCallFailed) as failed:
            await call_model(path, MESSAGES, response_format=None, timeout_s=2.0)
        outcomes.append(seen(failed.value))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1]["transient"] is True


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"lean": False}, "turned off"),
        ({"api_base": None}, "no api_base: litellm picks the provider's default"),
        ({"api_key_env": None}, "no key: litellm looks in the environment"),
        ({"model": "specloom-offline/fast"}, "the offline model answers in-process"),
        ({"model": "anthropic/claude-3-5-haiku-latest"}, "not OpenAI-compatible"),
        ({"model": "openai/o3-mini"}, "litellm rewrites parameters of reasoning models"),
        ({"model": "openai/gpt-5-mini"}, "litellm rewrites parameters of gpt-5 models"),
        ({"model": "openai/o4-unknown"}, "rewritten by name even when the map lacks it"),
        ({"model": "openai/gpt-4o-audio-preview-2024-12-17"}, "priced by audio tokens too"),
        ({"model": "openai/claude-haiku-4-5"}, "priced under another provider"),
    ],
)
def test_calls_litellm_would_change_keep_going_through_litellm(
    changes: dict[str, Any], why: str
) -> None:
    base = Deployment(
        alias="fast",
        model="openai/gpt-4o-mini",
        api_base="http://127.0.0.1:1/v1",
        api_key_env=KEY_ENV,
    )
    assert openai_http.eligible(base)
    assert not openai_http.eligible(replace(base, **changes)), why


def test_plain_prices_come_from_litellms_bundled_map() -> None:
    price = plain_price("openai/gpt-4o-mini")
    assert price is not None
    assert price.input == pytest.approx(1.5e-07)
    assert price.cached_input == pytest.approx(7.5e-08)
    assert price.output == pytest.approx(6e-07)
    assert plain_price("openai/not-a-model-anyone-sells") == plain_price("openai/also-not")
    assert plain_price("openai/gpt-4o-audio-preview-2024-12-17") is None
