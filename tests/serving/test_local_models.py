"""What a real local model taught: re-asks that can succeed, fallbacks that are not the same
model again, details naming every model, a server answering one request at a time, and
prompts that do not fit a model's context window."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.evaluation.helpers import case_body, start_run
from tests.fakes.upstream import Delay, Echo, FakeUpstream, Hang, Status, Text, Valid
from tests.serving.conftest import ApiFactory, execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
GOOD = {"team": "billing", "priority": "normal", "summary": "Double charge"}
BAD = '{"team": "it", "priority": "normal", "summary": "Double charge"}'


def write_models(
    path: Path, base_url: str, models: dict[str, str], info: dict[str, dict[str, Any]]
) -> Path:
    """A models file: alias → model name at the fake, with each alias's model_info."""
    entries = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/{model}",
                "api_base": base_url,
                "api_key": "os.environ/FAKE_PROVIDER_KEY",
            },
            "model_info": info.get(alias, {}),
        }
        for alias, model in models.items()
    ]
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return path


def kinds(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["kind"], a["outcome"]) for a in record["attempts"]]


async def test_a_reask_answered_with_the_rejected_text_stops_that_model(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api(max_reasks=3) as api:
        await live_agent(api, model={"name": "fast", "temperature": 0})
        upstream.default = Echo()
        upstream.script(Text(BAD), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert response.status_code == 502
    assert kinds(record) == [("ask", "schema_invalid"), ("reask", "repeated")]
    assert upstream.calls("fake-fast") == 2  # not the four the re-asks allow
    problem = response.json()
    assert problem["retryable"] is False
    assert "openai/fake-fast: repeated an answer it had been told was invalid" in problem["detail"]


async def test_the_reask_names_the_allowed_values(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api() as api:
        await live_agent(api, model={"name": "fast"})
        upstream.script(Text(BAD), Valid(GOOD), model="fake-fast")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 200
    reask = upstream.requests[1].body["messages"][-1]["content"]
    assert (
        "/team: `team` is 'it'; it must be one of 'billing', 'technical', 'sales', 'security'"
        in reask
    )


async def test_a_fallback_that_is_the_same_deployment_is_skipped(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    models = write_models(
        tmp_path / "same.yaml", upstream.base_url, {"fast": "one", "smart": "one"}, {}
    )
    async with make_api(models_file=models) as api:
        await live_agent(api, model={"name": "fast", "fallbacks": ["smart"], "temperature": 0})
        upstream.default = Text(BAD)
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        record = await execution(api, response)
    assert response.status_code == 502
    assert kinds(record) == [
        ("ask", "schema_invalid"),
        ("reask", "repeated"),
        ("skip", "same_deployment"),
    ]
    assert upstream.calls("one") == 2
    assert "openai/one: the same deployment as fast" in response.json()["detail"]


async def test_a_503_names_every_model_and_why(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    async with make_api() as api:
        await live_agent(api, model={"name": "fast", "fallbacks": ["smart"]})
        upstream.script(Status(500), model="fake-fast")
        upstream.script(Status(503), model="fake-smart")
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 503
    problem = response.json()
    assert "openai/fake-fast: failed with a server error" in problem["detail"]
    assert "openai/fake-smart: failed with a server error" in problem["detail"]
    assert problem["retryable"] is True


async def test_requests_beyond_max_concurrency_wait_in_specloom(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A one-slot server and three calls at once: without the gate the third waits 0.6 s in
    the server's queue and its 0.5 s attempt timeout runs out although the model is fine."""
    models = write_models(
        tmp_path / "one-slot.yaml",
        upstream.base_url,
        {"fast": "local"},
        {"fast": {"max_concurrency": 1}},
    )
    upstream.slots = 1
    upstream.default = Delay(0.3, Valid(GOOD))
    async with make_api(models_file=models) as api:
        await live_agent(api, model={"name": "fast"})
        responses = await asyncio.gather(
            *(
                api.post("/v1/agents/ticket-triage", json={**INPUT, "body": str(i)})
                for i in range(3)
            )
        )
        records = [await execution(api, r) for r in responses]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert upstream.peak_in_flight == 1
    assert all(kinds(r) == [("ask", "valid")] for r in records)


async def test_a_prompt_too_long_for_a_window_goes_to_a_model_it_fits(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    models = write_models(
        tmp_path / "windows.yaml",
        upstream.base_url,
        {"fast": "small", "smart": "large"},
        {"fast": {"max_input_tokens": 200}, "smart": {"max_input_tokens": 100_000}},
    )
    # The first count imports litellm's tokenizer: seconds on a cold process.
    async with make_api(models_file=models, call_deadline_s=60.0) as api:
        await live_agent(api, model={"name": "fast", "fallbacks": ["smart"]})
        upstream.default = Valid(GOOD)
        response = await api.post("/v1/agents/ticket-triage", json={**INPUT, "body": "word " * 400})
        record = await execution(api, response)
    assert response.status_code == 200
    assert kinds(record) == [("skip", "context_too_small"), ("fallback", "valid")]
    assert upstream.calls("small") == 0


async def test_a_server_with_a_tokenizer_counts_the_prompt_itself(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """litellm counts 400 words as more than 200 tokens; the model's own tokenizer (the
    server's, one token per ten words here) says the prompt fits, and the server decides."""
    models = write_models(
        tmp_path / "windows.yaml",
        upstream.base_url,
        {"fast": "small", "smart": "large"},
        {"fast": {"max_input_tokens": 200}, "smart": {"max_input_tokens": 100_000}},
    )
    upstream.tokens_per_word = 0.1
    async with make_api(models_file=models, call_deadline_s=60.0) as api:
        await live_agent(api, model={"name": "fast", "fallbacks": ["smart"]})
        upstream.default = Valid(GOOD)
        body = {**INPUT, "body": "word " * 400}
        response = await api.post("/v1/agents/ticket-triage", json=body)
        record = await execution(api, response)
        assert kinds(record) == [("ask", "valid")]
        assert upstream.calls("small") == 1
        # A server without the endpoint is asked once, then litellm counts.
        upstream.tokens_per_word = None
        await api.post("/v1/agents/ticket-triage", json={**body, "subject": "Again"})
        await api.post("/v1/agents/ticket-triage", json={**body, "subject": "And again"})
    # (start-up detection asks its own questions: only /tokenize counts here)
    asked = [path for path, _ in upstream.native_requests if path == "/tokenize"]
    assert len(asked) == 2


async def test_a_prompt_no_window_fits_is_a_413_before_any_call(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    models = write_models(
        tmp_path / "windows.yaml",
        upstream.base_url,
        {"fast": "small", "smart": "medium"},
        {"fast": {"max_input_tokens": 200}, "smart": {"max_input_tokens": 300}},
    )
    async with make_api(models_file=models, call_deadline_s=60.0) as api:
        await live_agent(api, model={"name": "fast", "fallbacks": ["smart"], "max_tokens": 50})
        response = await api.post("/v1/agents/ticket-triage", json={**INPUT, "body": "word " * 400})
    assert response.status_code == 413
    problem = response.json()
    assert problem["type"].endswith("/prompt-too-large")
    assert problem["retryable"] is False
    assert "+ 50 output tokens by litellm's counter; its window holds 200" in problem["detail"]
    assert "its window holds 300" in problem["detail"]
    assert upstream.calls() == 0


@pytest.mark.parametrize("body", ["short", "word " * 30])
async def test_a_short_prompt_is_not_counted_by_a_tokenizer(
    make_api: ApiFactory,
    upstream: FakeUpstream,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
) -> None:
    """A prompt whose bytes fit the window cannot overflow it: no tokenizer on that path."""
    from app.providers import tokens

    async def refuse(model: str, messages: list[dict[str, Any]]) -> int:
        raise AssertionError("counted a prompt that obviously fits")

    monkeypatch.setattr(tokens, "count", refuse)
    models = write_models(
        tmp_path / "windows.yaml",
        upstream.base_url,
        {"fast": "big"},
        {"fast": {"max_input_tokens": 100_000}},
    )
    async with make_api(models_file=models) as api:
        await live_agent(api, model={"name": "fast"})
        response = await api.post("/v1/agents/ticket-triage", json={**INPUT, "body": body})
    assert response.status_code == 200


async def test_a_timeout_cut_short_by_the_deadline_is_not_a_breaker_failure(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A slow model given minutes by its own timeout, in a call whose deadline is shorter:
    the caller's budget ran out, the model did not fail."""
    models = write_models(tmp_path / "slow.yaml", upstream.base_url, {"fast": "slow"}, {})
    document = yaml.safe_load(models.read_text())
    document["model_list"][0]["litellm_params"]["timeout"] = 600
    models.write_text(yaml.safe_dump(document))
    upstream.default = Hang(3)
    async with make_api(models_file=models, call_deadline_s=0.4, breaker_failures=1) as api:
        await live_agent(api, model={"name": "fast"})
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        models_view = (await api.get("/api/models")).json()["items"]
    assert response.status_code == 504
    (slow,) = models_view
    assert slow["state"] == "closed"
    assert slow["consecutive_failures"] == 0


async def test_a_spec_without_a_limit_gets_the_models_file_output_limit(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A local server asked without `max_tokens` writes until its context is full."""
    models = write_models(
        tmp_path / "limit.yaml",
        upstream.base_url,
        {"fast": "local"},
        {"fast": {"max_output_tokens": 512}},
    )
    async with make_api(models_file=models) as api:
        await live_agent(api, model={"name": "fast"})
        upstream.default = Valid(GOOD)
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 200
    assert upstream.requests[0].body["max_tokens"] == 512


async def test_local_servers_are_asked_at_start_up_and_on_demand(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """What a llama.cpp-like server says of itself is shown in /api/models and the web app:
    asked at start-up, in the background, and again by POST /api/models/check."""
    upstream.props = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}
    models = write_models(
        tmp_path / "local.yaml",
        upstream.base_url,
        {"fast": "local"},
        {"fast": {"supports_response_schema": False}},
    )
    async with make_api(models_file=models) as api:
        for _ in range(100):  # the start-up check runs beside the server, not before it
            (fast,) = (await api.get("/api/models")).json()["items"]
            if fast["detected"] is not None:
                break
            await asyncio.sleep(0.05)
        assert fast["detected"]["server"] == "llama.cpp"
        assert fast["local"] is True  # a server on loopback
        assert (fast["detected"]["context_window"], fast["detected"]["grammar"]) == (4096, True)
        upstream.props = {"default_generation_settings": {"n_ctx": 8192}}
        checked = await api.post("/api/models/check")
        assert checked.status_code == 200, checked.text
        (fast,) = checked.json()["items"]
        assert fast["detected"]["context_window"] == 8192
        assert fast["detected"]["models"] == ["fake"]


async def test_a_suite_asks_a_one_slot_model_one_case_at_a_time(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Four cases asked at once behind one slot: the third and fourth would wait 2 s and 3 s
    for it, past their 2.5 s deadline, although the model answers every case in 1 s."""
    models = write_models(
        tmp_path / "one-slot.yaml",
        upstream.base_url,
        {"fast": "local"},
        {"fast": {"max_concurrency": 1}},
    )
    upstream.slots = 1
    upstream.default = Delay(1.0, Valid(GOOD))
    settings = {"models_file": models, "call_deadline_s": 2.5, "attempt_timeout_s": 2.4}
    async with make_api(**settings) as api:
        await live_agent(api, model={"name": "fast"})
        for name in ("one", "two", "three", "four"):
            created = await api.post("/api/specs/ticket-triage/cases", json=case_body(name))
            assert created.status_code == 201, created.text
        run = await start_run(api, "ticket-triage", 1)
    assert run["status"] == "passed", [r["error"] for c in run["cases"] for r in c["runs"]]
    assert [c["pass_rate"] for c in run["cases"]] == [1.0, 1.0, 1.0, 1.0]
    assert upstream.peak_in_flight == 1
