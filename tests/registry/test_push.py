"""`specloom specs push`: files become specs and versions; unchanged content is a no-op."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.cli import _push
from app.core.settings import Settings
from tests.factories import make_document


def write_spec(path: Path, **overrides: Any) -> Path:
    path.write_text(yaml.safe_dump(make_document(**overrides), sort_keys=False))
    return path


async def test_push_creates_versions_only_on_change(
    settings: Settings,
    client: httpx.AsyncClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec_file = write_spec(tmp_path / "ticket-triage.yaml")
    assert await _push(settings, [spec_file], publish=False) == 0
    assert await _push(settings, [spec_file], publish=False) == 0
    out = capsys.readouterr().out
    assert "ticket-triage: created (version 1)" in out
    assert "ticket-triage: unchanged (version 1)" in out
    assert (await client.get("/api/specs/ticket-triage")).json()["live_version"] is None

    write_spec(spec_file, rules=["Only one rule now."])
    assert await _push(settings, [spec_file], publish=True) == 0
    assert "ticket-triage: versioned (version 2, published)" in capsys.readouterr().out
    spec = (await client.get("/api/specs/ticket-triage")).json()
    assert (spec["latest_version"], spec["live_version"]) == (2, 2)


async def test_push_rejects_an_invalid_file_and_writes_nothing(
    settings: Settings,
    client: httpx.AsyncClient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = write_spec(tmp_path / "good.yaml", name="good-agent")
    bad = write_spec(tmp_path / "bad.yaml", output_schema={"type": "array"})
    assert await _push(settings, [good, bad], publish=True) == 1
    err = capsys.readouterr().err
    assert "bad.yaml" in err
    assert "/output_schema/type" in err
    assert (await client.get("/api/specs")).json()["items"] == []
