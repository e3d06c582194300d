"""The example specs pass their own tests on the offline model, in-process (`specs push
--publish`, which `serve --load-specs` runs) and through the API's background runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from app.cli import _push
from app.core.settings import Settings
from tests.evaluation.helpers import wait_run
from tests.factories import make_document
from tests.test_spec_files import SPEC_FILES

EXAMPLES = {p.name: yaml.safe_load(p.read_text()) for p in SPEC_FILES}


async def test_push_publish_runs_the_suite_of_every_example(
    settings: Settings, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _push(settings, SPEC_FILES, publish=True) == 0, capsys.readouterr().err
    for document in EXAMPLES.values():
        name = document["name"]
        spec = (await client.get(f"/api/specs/{name}")).json()
        assert spec["live_version"] == 1
        cases = (await client.get(f"/api/specs/{name}/cases")).json()["items"]
        assert len(cases) >= 3
        assert {c["origin"] for c in cases} == {"file"}


async def test_push_publish_refuses_a_failing_version(
    settings: Settings,
    client: httpx.AsyncClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tests = [
        {
            "name": "never-true",
            "input": {"subject": "Hi", "body": "Hello"},
            "expect": [{"path": "/team", "exists": False}],  # team is required: always there
        }
    ]
    path = tmp_path / "triage.yaml"
    path.write_text(yaml.safe_dump(make_document("triage", tests=tests)))
    assert await _push(settings, [path], publish=True) == 1
    assert "triage: not published, failing cases: never-true" in capsys.readouterr().err
    spec = (await client.get("/api/specs/triage")).json()
    assert (spec["latest_version"], spec["live_version"]) == (1, None)


@pytest.mark.parametrize("file", sorted(EXAMPLES))
async def test_example_spec_passes_its_run_on_the_offline_model(
    client: httpx.AsyncClient, file: str
) -> None:
    document = EXAMPLES[file]
    created = await client.post("/api/specs", json={"document": document})
    assert created.status_code == 201, created.text
    run = await wait_run(client, created.headers["X-Specloom-Test-Run"], timeout_s=60)
    assert run["status"] == "passed", run["failing_cases"]
    assert run["progress"]["done"] == run["progress"]["total"] > 0
    published = await client.post(f"/api/specs/{document['name']}/publish", json={"version": 1})
    assert published.status_code == 200, published.text
