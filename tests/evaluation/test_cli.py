"""`specloom test`: exit codes, printed results and the JUnit report, in process and against
a running server (both on the offline model)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main
from app.core.settings import Settings
from app.evaluation.suite_cli import test_command as run_test_command
from tests.conftest import ADMIN_KEY
from tests.factories import make_document
from tests.servers import running_server

# Holds on any schema-valid answer: the offline model never reads a test's expectations, so
# a case it passes can only ask what every valid output has.
URGENT = {
    "name": "breach has a priority",
    "input": {"subject": "Leak", "body": "Our customer data was exposed"},
    "expect": [
        {"path": "/priority", "one_of": ["low", "normal", "high", "urgent"]},
        {"path": "/summary", "exists": True},
    ],
    "repeat": 2,
}
# The offline model writes arbitrary summaries: this regex never matches one.
IMPOSSIBLE = {
    "name": "summary is a haiku",
    "input": {"subject": "Poem", "body": "Write me a haiku"},
    "expect": [{"path": "/summary", "matches": "^NEVER-MATCHES-\\d{40}$"}],
}


def spec_file(tmp_path: Path, *tests: dict[str, Any]) -> Path:
    path = tmp_path / "ticket-triage.yaml"
    path.write_text(yaml.safe_dump(make_document(tests=list(tests))))
    return path


def junit(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_passing_suite_exits_zero_and_writes_junit(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out" / "junit.xml"
    code = run_test_command(
        settings, [spec_file(tmp_path, URGENT)], junit=report, url=None, key=None, timeout_s=60
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "PASS  breach has a priority  2/2 (100%, needs 100%)" in printed
    assert "ticket-triage: passed: 1 of 1 case(s) passed" in printed
    assert "NOTE  answered by the offline model" in printed  # a pass, but no evidence
    root = junit(report)
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "ticket-triage"
    [case] = suite.findall("testcase")
    assert case.get("name") == "breach has a priority"
    assert case.find("failure") is None


def test_failing_suite_exits_one_and_reports_the_failure(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "junit.xml"
    path = spec_file(tmp_path, URGENT, IMPOSSIBLE)
    code = run_test_command(settings, [path], junit=report, url=None, key=None, timeout_s=60)
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "FAIL  summary is a haiku  0/1 (0%, needs 100%)" in printed
    assert "NEVER-MATCHES" in printed  # the failed assertion is named
    root = junit(report)
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    failure = cases["summary is a haiku"].find("failure")
    assert failure is not None
    assert failure.get("message") == "pass rate 0.00 below 1.00 (0/1)"
    assert "NEVER-MATCHES" in (failure.text or "")
    assert cases["breach has a priority"].find("failure") is None


def test_the_file_is_pushed_as_a_draft(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.settings import get_settings

    monkeypatch.setenv("SPECLOOM_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("SPECLOOM_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        assert main(["test", str(spec_file(tmp_path, URGENT))]) == 0
        assert main(["test", str(tmp_path / "missing.yaml")]) == 2
        assert main(["specs", "pull", "--dir", str(tmp_path / "pulled")]) == 0
    finally:
        get_settings.cache_clear()
    # Nothing was published: the pull of live versions wrote no file.
    assert not list((tmp_path / "pulled").glob("*.yaml"))


def test_against_a_running_server(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "SPECLOOM_DATABASE_URL": settings.database_url or "",
        "SPECLOOM_DATA_DIR": str(tmp_path / "server"),
        "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
    }
    report = tmp_path / "junit.xml"
    with running_server(env, log_path=tmp_path / "server.log") as server:
        path = spec_file(tmp_path, URGENT, IMPOSSIBLE)
        code = run_test_command(
            settings, [path], junit=report, url=server.base_url, key=ADMIN_KEY, timeout_s=60
        )
        printed = capsys.readouterr().out
        assert code == 1, printed
        assert server.base_url in printed
        assert "PASS  breach has a priority" in printed
        assert "FAIL  summary is a haiku" in printed
        fixed = spec_file(tmp_path, URGENT)
        again = run_test_command(
            settings, [fixed], junit=None, url=server.base_url, key=ADMIN_KEY, timeout_s=60
        )
        # The stored case of the first push stays in the suite on the server.
        assert again == 1
        bad_key = run_test_command(
            settings, [fixed], junit=None, url=server.base_url, key="wrong", timeout_s=60
        )
        assert bad_key == 2
    assert (junit(report).get("failures")) == "1"
