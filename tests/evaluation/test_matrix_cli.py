"""`specloom matrix`: the estimate before it runs, the table, the recommendation, the exit
code and the JUnit report, in process on three priced models of the fake upstream."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from app.core.settings import Settings
from app.evaluation.matrix_cli import matrix_command
from tests.evaluation.helpers import BILLING, SALES, case_body
from tests.evaluation.test_model_matrix import PRICES, priced_models
from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Valid


@pytest.fixture
def priced_settings(serving_settings: Settings, upstream: FakeUpstream, tmp_path: Path) -> Settings:
    upstream.default = Valid(BILLING)
    upstream.script(*[Valid(SALES)] * 50, model="fake-cheapest")
    models = priced_models(tmp_path / "priced.yaml", upstream.base_url, PRICES)
    return serving_settings.model_copy(update={"models_file": models})


def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "triage.yaml"
    case = {k: v for k, v in case_body().items() if k in ("name", "input", "expect")}
    path.write_text(yaml.safe_dump(make_document("triage", tests=[case])))
    return path


def test_matrix_prints_the_estimate_table_and_recommendation_and_writes_junit(
    priced_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "junit.xml"

    code = matrix_command(
        priced_settings,
        spec_file(tmp_path),
        models="dear, cheap,cheapest",
        repeat=2,
        junit=report,
        url=None,
        key=None,
        timeout_s=60,
    )

    captured = capsys.readouterr()
    printed = captured.out
    assert code == 0, captured
    lines = printed.splitlines()
    # Printed before the run (the call log lines of the run follow it).
    assert lines[0].startswith("estimate: 6 call(s), about $")
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    assert start > 0
    rows = {line.split()[0]: line.split() for line in lines[start + 1 : start + 4]}
    assert rows["dear"][1:2] + rows["dear"][3:4] == ["100%", "PASS"]
    assert rows["cheap"][1:2] + rows["cheap"][3:4] == ["100%", "PASS"]
    assert rows["cheapest"][1:2] + rows["cheapest"][3:4] == ["0%", "FAIL"]
    assert "recommended: cheap" in lines
    root = ET.parse(report).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"triage@dear", "triage@cheap", "triage@cheapest"}
    assert suites["triage@cheapest"].get("failures") == "1"
    assert suites["triage@cheap"].get("failures") == "0"


def test_unknown_model_exits_two(
    priced_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = matrix_command(
        priced_settings,
        spec_file(tmp_path),
        models="cheap,nope",
        repeat=None,
        junit=None,
        url=None,
        key=None,
        timeout_s=60,
    )

    assert code == 2
    assert "'nope' is neither an alias nor a model" in capsys.readouterr().err
