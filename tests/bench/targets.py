"""The processes of one benchmark run and the three targets on the same upstream.

- two fake upstreams (`fast_upstream`): one answering at once, one after 2 s;
- Specloom: `specloom serve` (one uvicorn worker, embedded Postgres, execution log on);
- LiteLLM's proxy: `litellm --num_workers 1` from a separate venv, no database, no logging;
- the direct call: the load generator straight to the upstream (the floor).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.bench.fast_upstream import REASK_MARKER
from tests.bench.load import Request
from tests.factories import make_document
from tests.servers import ROOT, ServerProcess, free_port, stop_server, wait_ready

ADMIN = "bench-admin-key"
PROXY_KEY = "sk-" + "5f1c" * 8  # LiteLLM refuses to start without a master key
AGENT, SLOW_AGENT = "bench-agent", "bench-slow"


@dataclass(frozen=True)
class Target:
    """A way to get one ticket triaged; `make()` builds a fresh request."""

    name: str
    make: Callable[[], Request]
    pid: int | None  # the serving process, for its memory


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout_s}s")


@contextmanager
def process(
    args: list[str], health_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, up (its `health_url` answers) for the duration of the block."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        _wait_http(health_url, child)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def upstream(port: int, latency_ms: float, log: Path) -> Any:
    return process(
        [
            sys.executable,
            "-m",
            "tests.bench.fast_upstream",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ],
        f"http://127.0.0.1:{port}/",
        log,
    )


def payload(marker: str = "") -> dict[str, str]:
    """A ticket with a unique token: no cache can answer it unless the scenario repeats it."""
    return {
        "subject": f"Refund {uuid.uuid4().hex}",
        "body": f"I was charged twice. {marker}".strip(),
    }


@dataclass
class Specloom:
    """One `specloom serve`: this tree, an older tree (`--baseline`) or an env variant."""

    name: str
    server: ServerProcess
    env: dict[str, str]
    cwd: Path
    key: str = ""


@dataclass
class Bench:
    """Everything a scenario needs: the targets and how to reach the services."""

    tmp: Path
    servers: list[Specloom]
    proxy_pid: int | None  # None: run without LiteLLM's proxy (profiling)
    proxy_url: str
    fast_base: str
    slow_base: str
    system_prompt: str
    user_template: str
    response_format: dict[str, Any]

    def _chat(self, url: str, model: str, body: dict[str, str], headers: dict[str, str]) -> Request:
        user = self.user_template.replace("$INPUT_JSON", json.dumps(body, sort_keys=True))
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
        ]
        data = {
            "model": model,
            "messages": messages,
            "response_format": self.response_format,
            "temperature": 0,
        }
        return Request(
            url, json.dumps(data).encode(), {"content-type": "application/json", **headers}
        )

    def _agent(self, s: Specloom, agent: str, body: Callable[[], dict[str, str]]) -> Target:
        def make() -> Request:
            return Request(
                f"{s.server.base_url}/v1/agents/{agent}",
                json.dumps(body()).encode(),
                {"content-type": "application/json", "authorization": f"Bearer {s.key}"},
            )

        return Target(s.name, make, s.server.process.pid)

    def targets(
        self, *, slow: bool = False, marker: str = "", fixed: dict[str, str] | None = None
    ) -> list[Target]:
        """direct, each Specloom and litellm-proxy, on the fast (or the slow) upstream."""
        base = self.slow_base if slow else self.fast_base
        alias = "slow" if slow else "fast"
        agent = SLOW_AGENT if slow else AGENT

        def body() -> dict[str, str]:
            return fixed if fixed is not None else payload(marker)

        auth = {"authorization": "Bearer sk-bench"}
        proxy = (
            []
            if self.proxy_pid is None
            else [
                Target(
                    "litellm-proxy",
                    lambda: self._chat(
                        self.proxy_url + "/v1/chat/completions",
                        alias,
                        body(),
                        {"authorization": f"Bearer {PROXY_KEY}"},
                    ),
                    self.proxy_pid,
                ),
            ]
        )
        return [
            Target(
                "direct",
                lambda: self._chat(base + "/chat/completions", "bench", body(), auth),
                None,
            ),
            *(self._agent(s, agent, body) for s in self.servers),
            *proxy,
        ]


def _models(fast: str, slow: str) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": alias,
                "litellm_params": {
                    "model": "openai/bench",
                    "api_base": base,
                    "api_key": "os.environ/BENCH_KEY",
                },
            }
            for alias, base in (("fast", fast), ("slow", slow))
        ]
    }


def _setup_specloom(server: ServerProcess) -> tuple[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
        for name, model in ((AGENT, "fast"), (SLOW_AGENT, "slow")):
            document = make_document(name, model={"name": model, "temperature": 0})
            if http.get(f"/api/specs/{name}").status_code == 404:
                http.post("/api/specs", json={"document": document}).raise_for_status()
                http.post(f"/api/specs/{name}/publish", json={"version": 1}).raise_for_status()
        key = http.post("/api/keys", json={"name": "bench", "scopes": ["invoke"]})
        key.raise_for_status()
        compiled = http.get(f"/api/specs/{AGENT}/versions/1/compiled").json()
    return str(key.json()["secret"]), compiled


def start_specloom(
    env: dict[str, str], cwd: Path, log_path: Path, extra: dict[str, str] | None = None
) -> ServerProcess:
    """`specloom serve` from the source tree `cwd` on a free port (not waiting for it)."""
    port = free_port()
    full = {**os.environ, **env, **(extra or {}), "SPECLOOM_PORT": str(port)}
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            cwd=cwd,
            env={**full, "SPECLOOM_HOST": "127.0.0.1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(f"http://127.0.0.1:{port}", child, log_path)


@contextmanager
def running_bench(
    tmp: Path,
    proxy_python: Path,
    *,
    baseline: Path | None = None,
    variants: dict[str, dict[str, str]] | None = None,
    with_proxy: bool = True,
) -> Iterator[Bench]:
    """Start the upstreams, the Specloom servers and the LiteLLM proxy; stop them after.

    All Specloom servers share one embedded Postgres (one data dir): `specloom` from this
    tree, `specloom-before` from `baseline` (a checkout of an older commit), and one per
    variant (this tree with extra environment, e.g. a feature switched off).
    """
    fast_port, slow_port = free_port(), free_port()
    fast, slow = f"http://127.0.0.1:{fast_port}/v1", f"http://127.0.0.1:{slow_port}/v1"
    models = tmp / "models.yaml"
    models.write_text(yaml.safe_dump(_models(fast, slow)))
    proxy_config = tmp / "proxy.yaml"
    proxy_config.write_text(yaml.safe_dump(_proxy_config(fast, slow)))
    env = {
        "SPECLOOM_DATA_DIR": str(tmp / "data"),
        "SPECLOOM_MODELS_FILE": str(models),
        "SPECLOOM_ADMIN_KEY": ADMIN,
        "SPECLOOM_DATABASE_URL": "",
        "SPECLOOM_LOG_LEVEL": "WARNING",
        "BENCH_KEY": "sk-bench",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    plan: list[tuple[str, Path, dict[str, str]]] = [("specloom", ROOT, {})]
    if baseline is not None:
        plan.append(("specloom-before", baseline, {}))
    plan += [(name, ROOT, extra) for name, extra in (variants or {}).items()]
    proxy_port = free_port()
    with ExitStack() as stack:
        stack.callback(stop_embedded_postgres, tmp / "data" / "pg")  # runs last
        stack.enter_context(upstream(fast_port, 0, tmp / "fast.log"))
        stack.enter_context(upstream(slow_port, 2000, tmp / "slow.log"))
        proxy = None
        if with_proxy:
            proxy = stack.enter_context(
                process(
                    [
                        *(str(proxy_python.parent / "litellm"), "--config", str(proxy_config)),
                        *("--port", str(proxy_port), "--num_workers", "1"),
                    ],
                    f"http://127.0.0.1:{proxy_port}/health/liveliness",
                    tmp / "proxy.log",
                    env={"BENCH_KEY": "sk-bench", "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
                )
            )
        servers = []
        for name, cwd, extra in plan:  # one at a time: the first initialises the data dir
            server = start_specloom(env, cwd, tmp / f"{name}.log", extra)
            stack.callback(stop_server, server)
            wait_ready(server, timeout_s=300)
            servers.append(Specloom(name, server, {**env, **extra}, cwd))
        compiled: dict[str, Any] = {}
        for s in servers:
            s.key, compiled = _setup_specloom(s.server)
        yield Bench(
            tmp=tmp,
            servers=servers,
            proxy_pid=proxy.pid if proxy is not None else None,
            proxy_url=f"http://127.0.0.1:{proxy_port}",
            fast_base=fast,
            slow_base=slow,
            system_prompt=compiled["messages"][0]["content"],
            user_template=compiled["messages"][1]["content"],
            response_format=compiled["response_format"],
        )


def stop_embedded_postgres(data: Path) -> None:
    """Stop the run's embedded Postgres: pgserver leaves it running when its users exit."""
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)  # fast shutdown
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return


def _proxy_config(fast: str, slow: str) -> dict[str, Any]:
    return {
        **_models(fast, slow),
        "litellm_settings": {"num_retries": 0, "request_timeout": 60, "drop_params": True},
        "general_settings": {
            "master_key": PROXY_KEY,
            "disable_spend_logs": True,
            "disable_error_logs": True,
        },
    }


__all__ = ["REASK_MARKER", "Bench", "Target", "running_bench"]
