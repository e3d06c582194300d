"""`specloom specs pull` and `specs diff`: pull → push is a no-op, diff shows what push would do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from app.cli import _diff, _push, _read_specs, main
from app.core.settings import Settings, get_settings
from app.registry.files import load_spec_file, spec_files
from app.registry.pull import write_pulled
from tests.registry.test_push import write_spec

EXAMPLES = spec_files(Path(__file__).parents[2] / "specs")
KEY_ORDER = [
    "name",
    "title",
    "description",
    "input_schema",
    "rules",
    "output_schema",
    "examples",
    "checks",
    "model",
    "tests",
]


async def pull(settings: Settings, directory: Path, *, latest: bool = False) -> list[Path]:
    written = write_pulled(await _read_specs(settings, latest=latest), directory)
    return [path for _, path in written if path is not None]


async def test_pull_then_push_is_a_no_op(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len(EXAMPLES) == 4
    assert await _push(settings, EXAMPLES, publish=True, force_reason="offline test") == 0
    pulled = await pull(settings, tmp_path / "pulled")
    assert sorted(p.name for p in pulled) == sorted(f"{p.stem}.yaml" for p in EXAMPLES)
    for path in pulled:
        data = yaml.safe_load(path.read_text())
        assert list(data) == [key for key in KEY_ORDER if key in data]
    capsys.readouterr()

    assert await _push(settings, pulled, publish=True) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all(": unchanged (version 1)" in line for line in lines), lines

    # Stable: pulling again writes the same bytes.
    again = await pull(settings, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in pulled]
    # And what was pulled is what was pushed, document for document.
    for original in EXAMPLES:
        copy = tmp_path / "pulled" / f"{original.stem}.yaml"
        assert load_spec_file(copy).canonical() == load_spec_file(original).canonical()


async def test_diff_names_each_changed_pointer(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pushed = write_spec(tmp_path / "ticket-triage.yaml")
    assert await _push(settings, [pushed], publish=True) == 0
    [pulled] = await pull(settings, tmp_path / "pulled")
    edited = yaml.safe_load(pulled.read_text())
    edited["rules"][0] = "Billing questions go to finance."
    edited["model"]["temperature"] = 0.5
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(edited, sort_keys=False))
    brand_new = write_spec(tmp_path / "new.yaml", name="brand-new")
    capsys.readouterr()

    assert await _diff(settings, [pulled, changed, brand_new]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ticket-triage: unchanged (version 1)",
        "ticket-triage: 2 change(s) against version 1",
        "  ~ /model/temperature: 0.0 -> 0.5",
        '  ~ /rules/0: "Billing questions go to the billing team." -> '
        '"Billing questions go to finance."',
        "brand-new: new spec",
    ]
    # diff writes nothing
    assert await _push(settings, [pulled], publish=False) == 0
    assert "unchanged (version 1)" in capsys.readouterr().out


async def test_pull_takes_live_versions_unless_latest(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_spec(tmp_path / "a.yaml")
    assert await _push(settings, [first], publish=True) == 0
    assert await _push(settings, [write_spec(tmp_path / "b.yaml", title="Two")], publish=False) == 0
    assert (
        await _push(settings, [write_spec(tmp_path / "c.yaml", name="draft")], publish=False) == 0
    )

    [live] = await pull(settings, tmp_path / "live")
    assert yaml.safe_load(live.read_text())["title"] == "Support ticket triage"
    latest = await pull(settings, tmp_path / "latest", latest=True)
    titles = {p.stem: yaml.safe_load(p.read_text())["title"] for p in latest}
    assert titles == {"ticket-triage": "Two", "draft": "Support ticket triage"}


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`specloom` reads its settings from the environment: point them at the test database."""
    monkeypatch.setenv("SPECLOOM_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("SPECLOOM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SPECLOOM_ADMIN_KEY", "sk-sl-cli")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path / "ticket-triage.yaml")
    assert main(["specs", "diff", str(spec)]) == 0
    assert main(["specs", "push", str(spec)]) == 0
    assert main(["specs", "pull", "--dir", str(tmp_path / "out")]) == 0
    assert main(["specs", "pull", "--latest", "--dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "ticket-triage: new spec" in out
    assert "ticket-triage: no live version, skipped (--latest pulls it)" in out
    assert f"ticket-triage: version 1 -> {tmp_path / 'out' / 'ticket-triage.yaml'}" in out
    assert main(["specs", "diff", str(tmp_path / "out" / "ticket-triage.yaml")]) == 0
    assert "ticket-triage: unchanged (version 1)" in capsys.readouterr().out


def test_spec_files_are_read_as_yaml_1_2(tmp_path: Path) -> None:
    """`yes`, `no`, `on` and `off` are words in a spec file, and a date stays text: read as
    YAML 1.1 (PyYAML), the enum below held two booleans and the example a `date`."""
    path = tmp_path / "answer.yaml"
    path.write_text(
        """\
name: answer
title: Yes or no
description: Answer a question with yes or no.
input_schema:
  type: object
  properties:
    question: {type: string}
    asked: {type: string, format: date}
  required: [question]
rules: [Answer yes or no.]
output_schema:
  type: object
  properties:
    answer: {enum: [yes, no, on, off]}
  required: [answer]
examples:
  - input: {question: Will it rain, asked: 2026-12-02}
    output: {answer: no}
""",
        encoding="utf-8",
    )
    document = load_spec_file(path).canonical()
    assert document["output_schema"]["properties"]["answer"]["enum"] == ["yes", "no", "on", "off"]
    assert document["examples"][0] == {
        "input": {"question": "Will it rain", "asked": "2026-12-02"},
        "output": {"answer": "no"},
    }
