"""Behaviour that must hold across server processes sharing one database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ADMIN_KEY, PgServer, fresh_database
from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream
from tests.servers import ServerProcess, running_servers

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}


RPM = 12


def _models_file(path: Path, base_url: str) -> Path:
    """`open` has no limit; `metered` allows RPM requests a minute."""
    entries = []
    for alias, rpm in (("open", None), ("metered", RPM)):
        params: dict[str, object] = {
            "model": f"openai/fake-{alias}",
            "api_base": base_url,
            "api_key": "os.environ/FAKE_PROVIDER_KEY",
        }
        if rpm is not None:
            params["rpm"] = rpm
        entries.append({"model_name": alias, "litellm_params": params})
    path.write_text(yaml.safe_dump({"model_list": entries}))
    return path


@pytest.fixture(scope="module")
def two_servers(
    pg_server: PgServer, upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two `specloom serve` processes on one database (started once for this module)."""
    tmp = tmp_path_factory.mktemp("processes")
    with fresh_database(pg_server) as database_url:
        env = {
            "SPECLOOM_DATABASE_URL": database_url,
            "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
            "SPECLOOM_DATA_DIR": str(tmp / "data"),
            "SPECLOOM_MODELS_FILE": str(
                _models_file(tmp / "models.yaml", upstream_server.base_url)
            ),
            "SPECLOOM_RATE_LIMIT_WAIT_S": "0.05",
            "SPECLOOM_MAX_RETRIES": "0",
            "FAKE_PROVIDER_KEY": "sk-fake",
        }
        with running_servers(env, [tmp / "a.log", tmp / "b.log"]) as (first, second):
            yield first, second


def test_publish_in_one_process_is_seen_by_the_other_at_once(
    two_servers: tuple[ServerProcess, ServerProcess], upstream: FakeUpstream
) -> None:
    a, b = two_servers
    with httpx.Client(headers=HEADERS, timeout=10) as http:
        document = make_document("ticket-triage", model={"name": "open"})
        assert http.post(a.base_url + "/api/specs", json={"document": document}).status_code == 201
        assert http.post(b.base_url + "/v1/agents/ticket-triage", json=INPUT).status_code == 404
        assert (
            "/v1/agents/ticket-triage" not in http.get(b.base_url + "/openapi.json").json()["paths"]
        )

        assert (
            http.post(
                a.base_url + "/api/specs/ticket-triage/publish", json={"version": 1}
            ).status_code
            == 200
        )
        served = _eventually(lambda: http.post(b.base_url + "/v1/agents/ticket-triage", json=INPUT))
        assert served.headers["x-specloom-version"] == "1"
        assert "/v1/agents/ticket-triage" in http.get(b.base_url + "/openapi.json").json()["paths"]

        changed = make_document(model={"name": "open"}, title="Triage, second edition")
        http.post(
            a.base_url + "/api/specs/ticket-triage/versions",
            json={"document": changed, "base_version": 1},
        ).raise_for_status()
        http.post(
            a.base_url + "/api/specs/ticket-triage/publish", json={"version": 2}
        ).raise_for_status()
        again = _eventually(
            lambda: http.post(b.base_url + "/v1/agents/ticket-triage", json=INPUT),
            lambda r: r.headers.get("x-specloom-version") == "2",
        )
        assert again.headers["x-specloom-version"] == "2"
        operation = http.get(b.base_url + "/openapi.json").json()["paths"][
            "/v1/agents/ticket-triage"
        ]
        assert operation["post"]["summary"] == "Triage, second edition"


def _eventually(
    call: Callable[[], httpx.Response],
    ok: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
    timeout_s: float = 2.0,
) -> httpx.Response:
    # A NOTIFY crosses processes in milliseconds; allow a little for a loaded machine.
    deadline = time.monotonic() + timeout_s
    while True:
        response = call()
        if ok(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.02)


async def test_two_processes_respect_one_rpm_limit_together(
    two_servers: tuple[ServerProcess, ServerProcess], upstream: FakeUpstream
) -> None:
    a, b = two_servers
    async with httpx.AsyncClient(headers=HEADERS, timeout=30) as http:
        document = make_document("metered-agent", model={"name": "metered"})
        (await http.post(a.base_url + "/api/specs", json={"document": document})).raise_for_status()
        (
            await http.post(a.base_url + "/api/specs/metered-agent/publish", json={"version": 1})
        ).raise_for_status()
        upstream.reset()

        async def call(server: ServerProcess, i: int) -> int:
            body = {**INPUT, "body": f"{INPUT['body']} #{i}"}
            return (
                await http.post(server.base_url + "/v1/agents/metered-agent", json=body)
            ).status_code

        codes = await asyncio.gather(*(call(a if i % 2 else b, i) for i in range(30)))
    # RPM per minute across both processes: RPM calls reach the model, the rest are refused
    # before a request is sent (503 with no model available), never a 429 from upstream.
    assert upstream.calls("fake-metered") == RPM
    assert sorted(codes) == [200] * RPM + [503] * (30 - RPM)
    stamps = sorted(r.received_at for r in upstream.requests)
    assert stamps[-1] - stamps[0] < 60
