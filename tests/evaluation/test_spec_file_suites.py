"""Every example spec in `specs/` is a complete suite: its tests name the rules, generated
cases cover the rest, and the whole suite runs on the built-in offline model with every
answer schema-valid and every generated case (which asks only what any valid output has)
passing. Whether the file's own tests pass says nothing there: the offline model does not
follow rules and never sees their expectations, so the run is marked offline and its pass
rates are not asserted (the real-model lane reports them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import Settings
from tests.conftest import admin_client, running_app
from tests.evaluation.helpers import start_run
from tests.test_spec_files import SPEC_FILES, load


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.name for p in SPEC_FILES])
async def test_spec_file_suite_runs_offline(settings: Settings, path: Path) -> None:
    document = load(path)
    name = document["name"]
    async with running_app(settings) as app, admin_client(app) as api:
        created = await api.post("/api/specs", json={"document": document})
        assert created.status_code == 201, created.text
        # The file's tests name the rules they exercise (by number), its checks the rules
        # they enforce; the rest are uncovered.
        named = {n for test in document["tests"] for n in test.get("rules", [])}
        assert named, f"{path.name}: no test names a rule"
        enforced = {n for check in document.get("checks", []) for n in check.get("rules", [])}
        before = (await api.get(f"/api/specs/{name}/coverage")).json()
        all_rules = set(range(1, len(document["rules"]) + 1))
        assert set(before["uncovered"]) == all_rules - named - enforced
        generated = await api.post(f"/api/specs/{name}/cases/generate")
        assert generated.status_code == 200, generated.text
        cases = generated.json()["items"]
        per_rule = [c for c in cases if c["name"].startswith("rule ")]
        assert len(per_rule) == len(document["rules"])

        coverage = (await api.get(f"/api/specs/{name}/coverage")).json()
        assert coverage["uncovered"] == []

        run = await start_run(api, name, 1)
        assert run["status"] in ("passed", "failed"), run["error"]
        assert run["offline"] is True
        assert len(run["cases"]) == len(document["tests"]) + len(cases)
        attempts = [r for c in run["cases"] for r in c["runs"]]
        assert all(r["offline"] and r["output"] is not None for r in attempts), attempts
        assert all(r["assertions"][0]["passed"] for r in attempts)  # schema-valid, every one
        placeholders = {c["name"] for c in cases if c["placeholder"]}
        assert placeholders == {c["name"] for c in per_rule}
        generated_names = {c["name"] for c in cases}
        failing = [
            c["name"] for c in run["cases"] if c["name"] in generated_names and not c["passed"]
        ]
        assert failing == []
