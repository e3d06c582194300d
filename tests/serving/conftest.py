"""Serving fixtures: the fake OpenAI-compatible upstream and an app whose aliases point at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from app.core.settings import Settings
from tests.conftest import admin_client, running_app
from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, running_upstream

PRICE_IN = 0.000001
PRICE_OUT = 0.000002


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[FakeUpstream]:
    with running_upstream() as fake:
        yield fake


@pytest.fixture
def upstream(upstream_server: FakeUpstream) -> FakeUpstream:
    """The fake upstream, with no script and no recorded requests."""
    upstream_server.reset()
    return upstream_server


def models_file(path: Path, base_url: str) -> Path:
    """A LiteLLM model_list with `fast` and `smart` served by the fake upstream."""
    entries = [
        {
            "model_name": alias,
            "litellm_params": {
                "model": f"openai/fake-{alias}",
                "api_base": base_url,
                "api_key": "os.environ/FAKE_PROVIDER_KEY",
                "input_cost_per_token": PRICE_IN,
                "output_cost_per_token": PRICE_OUT,
            },
        }
        for alias in ("fast", "smart")
    ]
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return path


@pytest.fixture
def serving_settings(
    settings: Settings, upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("FAKE_PROVIDER_KEY", "sk-fake-provider-key")
    return settings.model_copy(
        update={
            "models_file": models_file(tmp_path / "models.yaml", upstream.base_url),
            "attempt_timeout_s": 0.5,
            "call_deadline_s": 5.0,
            "max_reasks": 1,
            # Retries get their own tests; here one scripted behaviour is one attempt.
            "max_retries": 0,
        }
    )


@pytest.fixture
async def serving_app(serving_settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(serving_settings) as application:
        yield application


@pytest.fixture
async def api(serving_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of the app wired to the fake upstream."""
    async with admin_client(serving_app) as http:
        yield http


async def live_agent(api: httpx.AsyncClient, name: str = "ticket-triage", **overrides: Any) -> None:
    """Create and publish a spec (version 1)."""
    created = await api.post("/api/specs", json={"document": make_document(name, **overrides)})
    assert created.status_code == 201, created.text
    published = await api.post(f"/api/specs/{name}/publish", json={"version": 1})
    assert published.status_code == 200, published.text


async def execution(api: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    """The execution record behind a response."""
    found = await api.get(f"/v1/executions/{response.headers['x-specloom-execution-id']}")
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    return body


ApiFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def make_api(serving_settings: Settings) -> ApiFactory:
    """Open an admin client of an app built with settings overrides: `async with make_api(x=1)`."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with (
            running_app(serving_settings.model_copy(update=overrides)) as application,
            admin_client(application) as http,
        ):
            yield http

    return factory
