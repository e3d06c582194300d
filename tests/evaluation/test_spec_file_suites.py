"""Every example spec in `specs/` passes its own suite *and* its generated cases (schema,
examples, one per rule) on the built-in offline model."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import Settings
from tests.conftest import admin_client, running_app
from tests.evaluation.helpers import start_run
from tests.test_spec_files import SPEC_FILES, load


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.name for p in SPEC_FILES])
async def test_spec_file_suite_passes_offline(settings: Settings, path: Path) -> None:
    document = load(path)
    name = document["name"]
    async with running_app(settings) as app, admin_client(app) as api:
        created = await api.post("/api/specs", json={"document": document})
        assert created.status_code == 201, created.text
        # The file's tests name the rules they exercise (by number); the rest are uncovered.
        named = {n for test in document["tests"] for n in test.get("rules", [])}
        assert named, f"{path.name}: no test names a rule"
        before = (await api.get(f"/api/specs/{name}/coverage")).json()
        all_rules = set(range(1, len(document["rules"]) + 1))
        assert set(before["uncovered"]) == all_rules - named
        generated = await api.post(f"/api/specs/{name}/cases/generate")
        assert generated.status_code == 200, generated.text
        cases = generated.json()["items"]
        per_rule = [c for c in cases if c["name"].startswith("rule ")]
        assert len(per_rule) == len(document["rules"])

        coverage = (await api.get(f"/api/specs/{name}/coverage")).json()
        assert coverage["uncovered"] == []

        run = await start_run(api, name, 1)
        failing = {
            c["name"]: [a for r in c["runs"] for a in r["assertions"] if not a["passed"]]
            for c in run["cases"]
            if not c["passed"]
        }
        assert run["passed"] is True, failing
        assert len(run["cases"]) == len(document["tests"]) + len(cases)
