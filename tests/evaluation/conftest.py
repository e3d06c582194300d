"""Evaluation tests use the serving fixtures: the app wired to the fake upstream, with
roomier timeouts (a run makes many calls; a slow machine must not turn them into failures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import Settings
from tests.fakes.upstream import FakeUpstream
from tests.serving.conftest import (  # noqa: F401
    api,
    make_api,
    models_file,
    serving_app,
    upstream,
    upstream_server,
)


@pytest.fixture
def serving_settings(
    settings: Settings,
    upstream_server: FakeUpstream,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("FAKE_PROVIDER_KEY", "sk-fake-provider-key")
    return settings.model_copy(
        update={
            "models_file": models_file(tmp_path / "models.yaml", upstream_server.base_url),
            "attempt_timeout_s": 10.0,
            "call_deadline_s": 30.0,
            "max_reasks": 1,
            "max_retries": 0,
        }
    )
