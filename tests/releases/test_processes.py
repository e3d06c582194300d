"""A rollout guarded in a deployment of two server processes sharing one database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ADMIN_KEY, PgServer, fresh_database
from tests.factories import make_document
from tests.fakes.upstream import Delay, FakeUpstream, Status, Valid
from tests.servers import ServerProcess, running_servers
from tests.serving.conftest import models_file

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
SPEC = "/api/specs/ticket-triage"
AGENT = "/v1/agents/ticket-triage"
MIN_CALLS = 6


def _models_file(path: Path, base_url: str) -> Path:
    """`fast` and `smart` (the guard's failing candidate, whose breaker it opens), and
    `other` for the shadow's candidate."""
    models_file(path, base_url)
    listed = yaml.safe_load(path.read_text())
    other = {**listed["model_list"][0], "model_name": "other"}
    other["litellm_params"] = {**other["litellm_params"], "model": "openai/fake-other"}
    path.write_text(yaml.safe_dump({"model_list": [*listed["model_list"], other]}))
    return path


@pytest.fixture(scope="module")
def two_servers(
    pg_server: PgServer, upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """Two `specloom serve` processes on one database, each running its own guard."""
    tmp = tmp_path_factory.mktemp("release-processes")
    with fresh_database(pg_server) as database_url:
        env = {
            "SPECLOOM_DATABASE_URL": database_url,
            "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
            "SPECLOOM_DATA_DIR": str(tmp / "data"),
            "SPECLOOM_MODELS_FILE": str(
                _models_file(tmp / "models.yaml", upstream_server.base_url)
            ),
            "SPECLOOM_MAX_RETRIES": "0",
            "SPECLOOM_ROLLOUT_GUARD_INTERVAL_S": "0.2",
            "FAKE_PROVIDER_KEY": "sk-fake",
        }
        with running_servers(env, [tmp / "a.log", tmp / "b.log"]) as servers:
            yield servers


def _version(http: httpx.Client, server: ServerProcess, user: int) -> tuple[int, str]:
    response = http.post(
        server.base_url + AGENT, json=INPUT, headers={"X-Specloom-Subject": f"user-{user}"}
    )
    return response.status_code, response.headers.get("x-specloom-version", "")


def test_the_guard_sends_every_process_back_to_live(
    two_servers: list[ServerProcess], upstream: FakeUpstream
) -> None:
    a, b = two_servers
    with httpx.Client(headers=HEADERS, timeout=30) as http:
        document = make_document()
        http.post(a.base_url + "/api/specs", json={"document": document}).raise_for_status()
        candidate = make_document(model={"name": "smart"}, description="candidate")
        http.post(
            a.base_url + SPEC + "/versions",
            json={"document": candidate, "base_version": 1, "message": "smart"},
        ).raise_for_status()
        http.post(a.base_url + SPEC + "/publish", json={"version": 1}).raise_for_status()
        upstream.script(*[Status(500)] * 500, model="fake-smart")
        started = http.post(
            b.base_url + SPEC + "/rollouts",
            json={
                "version": 2,
                "percent": 50,
                "guard": {"max_failure_rate": 0.3, "min_calls": MIN_CALLS},
            },
        )
        assert started.status_code == 201, started.text
        rollout_id = started.json()["id"]

        # Each subject calls both processes: both put it on the same version (sticky across
        # processes), and a subject on the candidate fails in both.
        on_candidate: list[int] = []
        user = 0
        while 2 * len(on_candidate) < MIN_CALLS:
            first, second = _version(http, a, user), _version(http, b, user)
            assert first[1] == second[1], (user, first, second)
            if first[1] == "2":
                assert first[0] >= 502
                assert second[0] >= 502
                on_candidate.append(user)
            user += 1
            assert user < 100

        deadline = time.monotonic() + 15
        while True:
            rollout = http.get(a.base_url + f"{SPEC}/rollouts/{rollout_id}").json()
            if rollout["status"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        tripped_at = time.monotonic()
        assert rollout["status"] == "rolled_back", rollout
        assert rollout["ended_by"] == "guard"

        # All traffic is back on live in both processes, within a NOTIFY's delay.
        for server in (a, b):
            for subject in on_candidate:
                while _version(http, server, subject) != (200, "1"):
                    assert time.monotonic() - tripped_at < 2, (server.base_url, subject)
                    time.sleep(0.02)

        releases = http.get(b.base_url + SPEC + "/releases").json()["items"]
        guarded = [r for r in releases if r["action"] == "rollout_rolled_back"]
        assert len(guarded) == 1  # both processes guard; exactly one records the end
        assert guarded[0]["actor"] == "guard"
        assert guarded[0]["details"]["figures"]["calls"] >= MIN_CALLS
        assert guarded[0]["details"]["tripped"] == "max_failure_rate"
        events = http.get(a.base_url + "/api/audit?action=rollout.rolled_back").json()["items"]
        assert [e["actor"] for e in events] == ["guard"]


def test_a_shadow_runs_after_the_caller_has_its_answer(
    two_servers: list[ServerProcess], upstream: FakeUpstream
) -> None:
    a, _ = two_servers
    spec = "/api/specs/shadowed"
    with httpx.Client(headers=HEADERS, timeout=30) as http:
        http.post(
            a.base_url + "/api/specs", json={"document": make_document("shadowed")}
        ).raise_for_status()
        candidate = make_document("shadowed", model={"name": "other"}, description="candidate")
        http.post(
            a.base_url + spec + "/versions",
            json={"document": candidate, "base_version": 1, "message": "smart"},
        ).raise_for_status()
        http.post(a.base_url + spec + "/publish", json={"version": 1}).raise_for_status()
        shadow = http.post(a.base_url + spec + "/shadows", json={"version": 2, "sample": 1.0})
        assert shadow.status_code == 201, shadow.text
        upstream.script(Delay(1.5, Valid()), model="fake-other")

        started = time.monotonic()
        response = http.post(a.base_url + "/v1/agents/shadowed", json=INPUT)
        answered_s = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert answered_s < 1.0  # the candidate's 1.5 s is not the caller's

        deadline = time.monotonic() + 10
        while True:
            report = http.get(a.base_url + f"{spec}/shadows/{shadow.json()['id']}").json()
            if report["compared"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert (report["calls"], report["compared"]) == (1, 1)
        assert time.monotonic() - started >= 1.5
