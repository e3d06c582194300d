"""Which deployments take images: read without importing litellm, and as litellm says."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import litellm
import pytest

from app.providers.catalog import _vision_ok

MODELS = ["openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-3.5-turbo", "openai/llama3.1"]


@pytest.mark.parametrize("model", MODELS)
def test_vision_support_is_litellm_s_answer(model: str) -> None:
    assert _vision_ok(model) == bool(litellm.supports_vision(model=model))


def test_loading_an_openai_catalog_does_not_import_litellm() -> None:
    script = textwrap.dedent(
        """
        import sys, tempfile, pathlib
        from app.providers.catalog import load_catalog
        path = pathlib.Path(tempfile.mkdtemp()) / "models.yaml"
        path.write_text(
            "model_list:\\n"
            "  - model_name: fast\\n"
            "    litellm_params: {model: openai/gpt-4o-mini, api_base: http://127.0.0.1:9/v1}\\n"
        )
        catalog = load_catalog(path)
        assert "litellm" not in sys.modules, "litellm imported at catalog load"
        print(catalog.deployments["fast"][0].supports_vision)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"
