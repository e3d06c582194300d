"""The test gate of `specs push --publish` (which `serve --load-specs` runs) and of publish:
a version goes live on tests a real model passed. The offline model's answers are
placeholders, so a suite it answered is no evidence: publishing on it needs a reason."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from app.cli import OFFLINE_LOAD_REASON, _push
from app.core.settings import Settings
from tests.evaluation.helpers import wait_run
from tests.factories import make_document
from tests.test_spec_files import SPEC_FILES

EXAMPLES = {p.name: yaml.safe_load(p.read_text()) for p in SPEC_FILES}


async def test_push_publish_on_the_offline_model_is_refused_without_a_reason(
    settings: Settings, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _push(settings, SPEC_FILES, publish=True) == 1
    err = capsys.readouterr().err
    for document in EXAMPLES.values():
        name = document["name"]
        assert f"{name}: not published: its tests were answered by the offline model" in err
        spec = (await client.get(f"/api/specs/{name}")).json()
        assert (spec["latest_version"], spec["live_version"]) == (1, None)


async def test_serve_load_specs_publishes_the_examples_offline_on_a_recorded_reason(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    assert await _push(settings, SPEC_FILES, publish=True, force_reason=OFFLINE_LOAD_REASON) == 0
    for document in EXAMPLES.values():
        name = document["name"]
        assert (await client.get(f"/api/specs/{name}")).json()["live_version"] == 1
        cases = (await client.get(f"/api/specs/{name}/cases")).json()["items"]
        assert len(cases) >= 3
        assert {c["origin"] for c in cases} == {"file"}
        (release,) = (await client.get(f"/api/specs/{name}/releases")).json()["items"]
        assert release["forced"] is True
        assert "offline model" in release["reason"]
        # The audit trail says who did it and how, as for a publish through the API.
        events = (await client.get("/api/audit", params={"target": f"spec:{name}"})).json()
        actions = {e["action"]: e for e in events["items"]}
        assert set(actions) == {"spec.created", "spec.force_published"}
        assert actions["spec.force_published"]["actor"] == "cli"
        assert "offline model" in actions["spec.force_published"]["details"]["reason"]


async def test_push_publish_refuses_a_failing_version_on_a_real_model(
    serving_settings: Settings,
    api: httpx.AsyncClient,
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
    assert await _push(serving_settings, [path], publish=True) == 1
    assert "triage: not published: failing cases: never-true" in capsys.readouterr().err
    spec = (await api.get("/api/specs/triage")).json()
    assert (spec["latest_version"], spec["live_version"]) == (1, None)


@pytest.mark.parametrize("file", sorted(EXAMPLES))
async def test_an_example_suite_run_offline_is_marked_and_cannot_publish_unforced(
    client: httpx.AsyncClient, file: str
) -> None:
    document = EXAMPLES[file]
    name = document["name"]
    created = await client.post("/api/specs", json={"document": document})
    assert created.status_code == 201, created.text
    run = await wait_run(client, created.headers["X-Specloom-Test-Run"], timeout_s=60)
    assert run["offline"] is True
    assert all(a["offline"] for case in run["cases"] for a in case["runs"])
    assert run["progress"]["done"] == run["progress"]["total"] > 0
    refused = await client.post(f"/api/specs/{name}/publish", json={"version": 1})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/tests-answered-offline")
    assert "offline model" in problem["detail"]
    forced = await client.post(
        f"/api/specs/{name}/publish",
        json={"version": 1, "force": True, "reason": "trying the example without a model"},
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["forced"] is True
