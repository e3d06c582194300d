"""A reply cut off at the output limit is never repaired into an answer: it is asked again
with room once, else another model answers, else the caller learns it was truncated."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.fakes.upstream import FakeUpstream, Text, Valid
from tests.serving.conftest import ApiFactory, execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Double charge"}
# What json-repair would happily close into a valid, shorter answer ("Double cha").
CUT = '{"team": "billing", "priority": "normal", "summary": "Double cha'


@pytest.fixture(params=[True, False], ids=["plain HTTP path", "litellm path"])
def lean(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


async def test_a_cut_off_reply_is_asked_again_with_a_larger_limit(
    make_api: ApiFactory, upstream: FakeUpstream, lean: bool
) -> None:
    async with make_api(lean_provider_path=lean) as api:
        await live_agent(api, model={"name": "fast", "max_tokens": 40})
        upstream.script(Text(CUT, finish_reason="length"), Valid(GOOD), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        assert response.status_code == 200, response.text
        assert response.json() == GOOD
        record = await execution(api, response)
    assert [(a["kind"], a["outcome"]) for a in record["attempts"]] == [
        ("ask", "truncated"),
        ("more_tokens", "valid"),
    ]
    first, second = upstream.requests
    assert first.body["max_tokens"] == 40
    assert second.body["max_tokens"] == 80
    assert second.body["messages"] == first.body["messages"]


async def test_a_reply_cut_off_twice_is_a_502_naming_the_truncation(
    make_api: ApiFactory, upstream: FakeUpstream, lean: bool
) -> None:
    async with make_api(lean_provider_path=lean) as api:
        await live_agent(api, model={"name": "fast", "max_tokens": 40})
        upstream.script(
            Text(CUT, finish_reason="length"),
            Text(CUT + "rge", finish_reason="length"),
            model="fake-fast",
        )
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert response.status_code == 502
    problem = response.json()
    assert problem["type"].endswith("/output-truncated")
    assert "truncated" in problem["detail"]
    assert problem["retryable"] is False
    assert record["output"] is None
    assert [a["outcome"] for a in record["attempts"]] == ["truncated", "truncated"]
    assert upstream.calls("fake-fast") == 2


async def test_a_model_at_its_own_limit_falls_back_instead(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """The models file says `fast` can write no more than it was asked for: no second ask
    there, the fallback answers."""
    entries = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/fake-{alias}",
                "api_base": upstream.base_url,
                "api_key": "os.environ/FAKE_PROVIDER_KEY",
            },
            "model_info": {"max_output_tokens": 40},
        }
        for alias in ("fast", "smart")
    ]
    models = tmp_path / "limited.yaml"
    models.write_text(yaml.safe_dump({"model_list": entries}))
    async with make_api(models_file=models) as api:
        await live_agent(api, model={"name": "fast", "max_tokens": 40, "fallbacks": ["smart"]})
        upstream.script(Text(CUT, finish_reason="length"), model="fake-fast")
        upstream.script(Valid(GOOD), model="fake-smart")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert response.status_code == 200
    assert [(a["kind"], a["outcome"]) for a in record["attempts"]] == [
        ("ask", "truncated"),
        ("fallback", "valid"),
    ]


async def test_anthropic_style_stop_reason_counts_as_truncated(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(lean_provider_path=True) as api:
        await live_agent(api, model={"name": "fast", "max_tokens": 40})
        upstream.script(Text(CUT, finish_reason="max_tokens"), Valid(GOOD), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert response.status_code == 200
    assert record["attempts"][0]["outcome"] == "truncated"


async def test_syntax_slips_are_still_repaired(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """Repair keeps what it is for: a fence and a trailing comma in a complete reply."""
    await live_agent(api, model={"name": "fast"})
    upstream.script(
        Text('```json\n{"team": "billing", "priority": "normal", "summary": "Double",}\n```'),
        model="fake-fast",
    )
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 200
    assert response.json() == {**GOOD, "summary": "Double"}
    record = await execution(api, response)
    assert record["attempts"][0]["outcome"] == "repaired"
