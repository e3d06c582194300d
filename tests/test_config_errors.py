"""A bad configuration is one line naming the setting or file, exit code 2, no traceback and
no secret echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import ROOT

SECRET = "sk-live-DO-NOT-PRINT"


@dataclass(frozen=True)
class Case:
    name: str
    command: tuple[str, ...]
    env: dict[str, str]
    names: str  # what the line must name


def _models_file(tmp_path: Path, api_key: str) -> str:
    path = tmp_path / "models.yaml"
    path.write_text(
        "model_list:\n  - model_name: fast\n"
        f"    litellm_params: {{model: openai/x, api_key: {api_key}}}\n"
    )
    return str(path)


CASES = [
    Case(
        "negative timeout",
        ("db", "upgrade"),
        {"SPECLOOM_ATTEMPT_TIMEOUT_S": "-1"},
        "SPECLOOM_ATTEMPT_TIMEOUT_S",
    ),
    Case("port not a number", ("serve",), {"SPECLOOM_PORT": "eighty"}, "SPECLOOM_PORT"),
    Case(
        "unreachable database",
        ("db", "upgrade"),
        {"SPECLOOM_DATABASE_URL": f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x"},
        "SPECLOOM_DATABASE_URL",
    ),
    Case("inline api_key", ("serve",), {"MODELS": SECRET}, "SPECLOOM_MODELS_FILE"),
    Case("inline api_key (worker)", ("worker",), {"MODELS": SECRET}, "SPECLOOM_MODELS_FILE"),
    Case(
        "missing models file",
        ("serve",),
        {"SPECLOOM_MODELS_FILE": "/no/such.yaml"},
        "/no/such.yaml",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_bad_configuration_is_one_line_and_exit_code_2(case: Case, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECLOOM_")}
    env |= {"SPECLOOM_DATA_DIR": str(tmp_path / "data"), **case.env}
    if "MODELS" in env:
        env["SPECLOOM_MODELS_FILE"] = _models_file(tmp_path, env.pop("MODELS"))
        # The file is refused before any database is touched.
        env["SPECLOOM_DATABASE_URL"] = "postgresql+psycopg://u@127.0.0.1:1/x"
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *case.command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, result.stderr
    assert case.names in lines[0]
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stderr + result.stdout
