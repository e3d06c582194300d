"""A short soak in every test run (the 2,000-call one is `python -m tests.bench.soak`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.bench.soak import models_list, soak
from tests.fakes.upstream import FakeUpstream


async def test_soak_of_300_calls_with_a_misbehaving_primary(
    upstream: FakeUpstream, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PROVIDER_KEY", "sk-fake")
    models = tmp_path / "models.yaml"
    models.write_text(yaml.safe_dump(models_list(upstream.base_url)))
    result = await soak(upstream, database_url, tmp_path / "data", models, calls=300)
    assert result.invalid_outputs == 0
    assert result.succeeded + result.problems == result.calls
    assert result.success_rate >= 0.99, result.lines()
    assert result.recorded == result.calls
    assert result.primary_calls > 0
    assert result.fallback_calls > 0
