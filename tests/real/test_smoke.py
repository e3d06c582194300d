"""A few calls to the real small model on loopback, schema mode (`make test-real` runs the
whole lane). Skipped, saying why, only when the model or its runtime cannot be installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.settings import Settings
from app.providers.capabilities import detect
from app.providers.catalog import load_catalog
from tests.conftest import admin_client, running_app
from tests.factories import make_document
from tests.real.local import CONTEXT, NotInstallable, install, local_server, models_file
from tests.servers import free_port

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}


@pytest.fixture(scope="module")
def local_model() -> Iterator[str]:
    """The real model's base URL; the test is skipped when it cannot be installed."""
    try:
        installed = install()
    except NotInstallable as exc:
        pytest.skip(f"the real small model cannot be installed here: {exc}")
    with local_server(installed, free_port()) as base_url:
        yield base_url


@pytest.mark.timeout(900)
async def test_the_real_model_answers_in_schema_mode(
    local_model: str, settings: Settings, tmp_path: Path
) -> None:
    real = settings.model_copy(
        update={"models_file": models_file(tmp_path / "models.yaml", local_model)}
    )
    # `specloom models check`: the server says what it serves and how large its context is.
    (deployment,) = load_catalog(real.models_file).resolve("fast")
    facts = await detect(deployment)
    assert (facts.server, facts.context_window, facts.grammar) == ("llama.cpp", CONTEXT, True)
    async with running_app(real) as application, admin_client(application) as api:
        document = make_document(model={"name": "fast", "temperature": 0, "max_tokens": 200})
        created = await api.post("/api/specs", json={"document": document})
        assert created.status_code == 201, created.text
        published = await api.post("/api/specs/ticket-triage/publish", json={"version": 1})
        assert published.status_code == 200, published.text
        response = await api.post("/v1/agents/ticket-triage", json=INPUT)
        found = await api.get(f"/v1/executions/{response.headers['x-specloom-execution-id']}")
        record = found.json()
        # The grammar the server makes of the schema: always JSON, always the schema's shape.
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"team", "priority", "summary"}
        assert record["attempts"][0]["outcome"] == "valid"
        assert float(record["cost_usd"]) == 0.0

        # Cut off at its output limit: named as truncated, never repaired into an answer.
        document = make_document(
            "ticket-short", model={"name": "fast", "temperature": 0, "max_tokens": 4}
        )
        await api.post("/api/specs", json={"document": document})
        await api.post("/api/specs/ticket-short/publish", json={"version": 1})
        cut = await api.post("/v1/agents/ticket-short", json=INPUT)
        assert cut.status_code == 502, cut.text
        assert cut.json()["type"].endswith("/output-truncated")
