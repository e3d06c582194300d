"""Model matrices on the scripted fake upstream: three priced models, the one the evidence
picks, `model: auto` serving it, the publish gate of `auto` and a matrix gone stale."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.evaluation.helpers import BILLING, SALES, case_body, wait_run
from tests.factories import create_spec, make_document
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import ApiFactory

# USD per input and output token: a dear model, a cheap one and the cheapest.
PRICES = {"dear": (1e-5, 2e-5), "cheap": (1e-6, 2e-6), "cheapest": (1e-7, 2e-7)}
REPEAT = 3


def priced_models(path: Path, base_url: str, prices: dict[str, tuple[float, float]]) -> Path:
    """A models file with one alias per priced model, all served by the fake upstream."""
    entries = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/fake-{alias}",
                "api_base": base_url,
                "api_key": "os.environ/FAKE_PROVIDER_KEY",
                "input_cost_per_token": price_in,
                "output_cost_per_token": price_out,
            },
        }
        for alias, (price_in, price_out) in prices.items()
    ]
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return path


async def wait_matrix(api: httpx.AsyncClient, name: str, matrix_id: str) -> dict[str, Any]:
    """Poll a matrix until it ends."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        response = await api.get(f"/api/specs/{name}/model-matrix/{matrix_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("finished", "error"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


async def run_matrix(api: httpx.AsyncClient, name: str, version: int) -> dict[str, Any]:
    """Start a matrix of the three models and wait for it; the cheapest answers wrongly."""
    started = await api.post(
        f"/api/specs/{name}/versions/{version}/model-matrix",
        json={"models": list(PRICES), "repeat": REPEAT},
    )
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "queued"
    estimate = {m["model"]: m["cost_usd"] for m in body["estimate"]["models"]}
    assert estimate["dear"] > estimate["cheap"] > estimate["cheapest"] > 0
    assert body["estimate"]["calls"] == REPEAT * len(PRICES)
    assert body["estimate_usd"] == pytest.approx(body["estimate"]["cost_usd"])
    return await wait_matrix(api, name, body["id"])


async def matrix_sources(api: httpx.AsyncClient) -> set[str]:
    """The sources of the recorded `matrix` executions, once the batched writer stored some."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        listed = (await api.get("/api/executions?source=matrix")).json()["items"]
        if len(listed) == REPEAT * len(PRICES) or asyncio.get_running_loop().time() > deadline:
            return {e["source"] for e in listed}
        await asyncio.sleep(0.05)


@pytest.fixture
def priced(tmp_path: Path, upstream: FakeUpstream) -> Path:
    """The fake upstream answers BILLING, except the cheapest model, always SALES."""
    upstream.default = Valid(BILLING)
    upstream.script(*[Valid(SALES)] * 50, model="fake-cheapest")
    return priced_models(tmp_path / "priced.yaml", upstream.base_url, PRICES)


async def test_matrix_recommends_the_cheap_passing_model_and_auto_serves_it(
    make_api: ApiFactory, upstream: FakeUpstream, priced: Path
) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage", model={"name": "dear"})
        assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201

        matrix = await run_matrix(api, "triage", 1)

        assert matrix["status"] == "finished", matrix
        rows = {row["model"]: row for row in matrix["rows"]}
        assert [row["model"] for row in matrix["rows"]] == list(PRICES)
        assert [rows[m]["pass_rate"] for m in PRICES] == [1.0, 1.0, 0.0]
        assert [rows[m]["passed"] for m in PRICES] == [True, True, False]
        cost = {m: rows[m]["cost_usd_per_call"] for m in PRICES}
        assert cost["dear"] > cost["cheap"] > cost["cheapest"] > 0
        assert rows["cheap"]["wilson_lower"] == pytest.approx(0.4385, abs=1e-3)  # 3 of 3
        assert rows["cheapest"]["wilson_lower"] == 0.0
        assert all(rows[m]["calls"] == REPEAT for m in PRICES)
        assert all(rows[m]["invalid_rate"] == 0.0 for m in PRICES)
        assert all(rows[m]["reasks_per_call"] == 0.0 for m in PRICES)
        assert all(rows[m]["check_failures"] == 0 for m in PRICES)
        assert rows["cheap"]["p95_latency_ms"] >= rows["cheap"]["p50_latency_ms"] > 0
        assert matrix["recommended"] == "cheap"
        assert matrix["ranking"] == ["cheap", "dear"]
        assert matrix["stale"] is False
        assert matrix["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in matrix["rows"]))
        # Each model was asked alone: no fallbacks, and never the cache.
        assert upstream.calls("fake-dear") == upstream.calls("fake-cheap") == REPEAT
        assert upstream.calls("fake-cheapest") == REPEAT

        # Its calls are recorded apart from production traffic and from test runs.
        assert await matrix_sources(api) == {"matrix"}

        saved = await api.post(
            "/api/specs/triage/versions",
            json={
                "document": make_document("triage", model={"name": "auto"}),
                "base_version": 1,
                "message": "use the matrix's choice",
            },
        )
        assert saved.status_code == 201, saved.text
        run = await wait_run(api, saved.headers["X-Specloom-Test-Run"])
        assert run["passed"] is True
        published = await api.post("/api/specs/triage/publish", json={"version": 2})
        assert published.status_code == 200, published.text

        before = upstream.calls("fake-cheap")
        answered = await api.post(
            "/v1/agents/triage", json={"subject": "Refund", "body": "I was charged twice"}
        )

        assert answered.status_code == 200, answered.text
        assert answered.json() == BILLING
        assert answered.headers["X-Specloom-Model"] == "openai/fake-cheap"
        assert answered.headers["X-Specloom-Model-Choice"] == "auto"
        assert upstream.calls("fake-cheap") == before + 1
        execution_id = answered.headers["X-Specloom-Execution-Id"]
        record = await api.get(f"/v1/executions/{execution_id}")
        assert record.status_code == 200, record.text
        assert record.json()["model"] == "openai/fake-cheap"
        assert record.json()["model_choice"] == "auto"


async def test_auto_without_a_finished_matrix_is_not_published_unless_forced(
    make_api: ApiFactory, priced: Path
) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage", model={"name": "auto"})

        refused = await api.post("/api/specs/triage/publish", json={"version": 1})

        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/model-matrix-missing")
        assert "auto" in refused.json()["detail"]
        forced = await api.post(
            "/api/specs/triage/publish",
            json={"version": 1, "force": True, "reason": "matrix tomorrow"},
        )
        assert forced.status_code == 200, forced.text


async def test_matrix_goes_stale_when_the_models_file_changes(
    make_api: ApiFactory, upstream: FakeUpstream, priced: Path, tmp_path: Path
) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage")
        assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201
        matrix = await run_matrix(api, "triage", 1)
        assert matrix["stale"] is False
    dearer = {**PRICES, "cheap": (3e-6, 6e-6)}
    changed = priced_models(tmp_path / "changed.yaml", upstream.base_url, dearer)
    async with make_api(models_file=changed) as api:
        again = await api.get(f"/api/specs/triage/model-matrix/{matrix['id']}")
        listed = await api.get("/api/specs/triage/model-matrix?version=1")

    assert again.json()["stale"] is True
    assert [m["id"] for m in listed.json()["items"]] == [matrix["id"]]


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"models": ["nope"]}, 422, "unknown-models"),
        ({"repeat": 0}, 422, None),
        ({"models": []}, 422, None),
    ],
    ids=["unknown-model", "zero-repeat", "no-models"],
)
async def test_bad_matrix_requests(
    make_api: ApiFactory, priced: Path, body: dict[str, Any], status: int, problem: str | None
) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage")
        assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201
        response = await api.post("/api/specs/triage/versions/1/model-matrix", json=body)

    assert response.status_code == status, response.text
    if problem is not None:
        assert response.json()["type"].endswith(f"/{problem}")
        assert response.json()["errors"][0]["pointer"] == "/models/0"


async def test_matrix_without_cases_is_refused(make_api: ApiFactory, priced: Path) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage")
        response = await api.post("/api/specs/triage/versions/1/model-matrix")

    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/model-matrix-without-cases")


async def publish_auto(api: httpx.AsyncClient, name: str, base: int) -> int:
    """Save the spec with `model: auto` on top of `base`, wait for its tests, publish it."""
    saved = await api.post(
        f"/api/specs/{name}/versions",
        json={
            "document": make_document(name, model={"name": "auto", "temperature": 0}),
            "base_version": base,
            "message": "auto",
        },
    )
    assert saved.status_code == 201, saved.text
    await wait_run(api, saved.headers["X-Specloom-Test-Run"])
    number = int(saved.json()["version"])
    published = await api.post(f"/api/specs/{name}/publish", json={"version": number})
    assert published.status_code == 200, published.text
    return number


async def served_by(api: httpx.AsyncClient, name: str) -> tuple[str, str]:
    """The model that answered a call (the same input each time), and whether from cache."""
    answered = await api.post(
        f"/v1/agents/{name}", json={"subject": "Refund", "body": "I was charged twice"}
    )
    assert answered.status_code == 200, answered.text
    return answered.headers["X-Specloom-Model"], answered.headers["X-Specloom-Cache"]


async def cached_by(api: httpx.AsyncClient, name: str, model: str) -> None:
    """Wait until the response cache serves the call (its stores are written behind)."""
    deadline = asyncio.get_running_loop().time() + 10
    while await served_by(api, name) != (model, "hit"):
        assert asyncio.get_running_loop().time() < deadline, "never cached"
        await asyncio.sleep(0.05)


async def test_auto_follows_the_matrix_run_again(
    make_api: ApiFactory, upstream: FakeUpstream, priced: Path
) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage", model={"name": "dear"})
        assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201
        assert (await run_matrix(api, "triage", 1))["recommended"] == "cheap"
        version = await publish_auto(api, "triage", 1)
        assert await served_by(api, "triage") == ("openai/fake-cheap", "miss")
        await cached_by(api, "triage", "openai/fake-cheap")

        # The cheap model regresses: measured again, the evidence moves to the dear one, and
        # the live version (held in memory) follows at once, its cached answers left behind.
        upstream.script(*[Valid(SALES)] * REPEAT, model="fake-cheap")
        again = await run_matrix(api, "triage", version)

        assert again["recommended"] == "dear"
        assert [r["pass_rate"] for r in again["rows"]] == [1.0, 0.0, 0.0]
        assert await served_by(api, "triage") == ("openai/fake-dear", "miss")


async def test_matrix_runs_are_not_the_versions_own_test_run(
    make_api: ApiFactory, priced: Path
) -> None:
    async with make_api(models_file=priced) as api:
        await create_spec(api, "triage")
        assert (await api.post("/api/specs/triage/cases", json=case_body())).status_code == 201
        started = await api.post(
            "/api/specs/triage/versions/1/model-matrix", json={"models": ["cheapest", "cheap"]}
        )
        assert started.status_code == 202, started.text
        matrix = await wait_matrix(api, "triage", started.json()["id"])
        assert matrix["recommended"] == "cheap"

        # The newest run of version 1 is the matrix's (passing) run on `cheap`; the gate
        # still wants version 1's own run on its own model.
        refused = await api.post("/api/specs/triage/publish", json={"version": 1})

        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/tests-not-passed")
        assert refused.json()["test_run"] is None
