"""A real server on the embedded Postgres keeps everything across a restart."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.factories import make_document
from tests.servers import running_server


def test_restart_keeps_all_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        "SPECLOOM_DATA_DIR": str(data_dir),
        "SPECLOOM_ADMIN_KEY": "",
        "SPECLOOM_DATABASE_URL": "",
    }
    with running_server(env, log_path=tmp_path / "first.log") as server:
        key = (data_dir / "admin_key").read_text().strip()
        assert (data_dir / "admin_key").stat().st_mode & 0o777 == 0o600
        assert key in server.log()  # printed once, on first start
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(
            server.base_url + "/api/specs", json={"document": make_document()}, headers=headers
        )
        assert created.status_code == 201, created.text
        published = httpx.post(
            server.base_url + "/api/specs/ticket-triage/publish",
            json={"version": 1},
            headers=headers,
        )
        assert published.status_code == 200

    with running_server(env, log_path=tmp_path / "second.log") as server:
        assert key not in server.log()  # never printed again
        spec = httpx.get(server.base_url + "/api/specs/ticket-triage", headers=headers)
        assert spec.status_code == 200
        assert spec.json()["live_version"] == 1
        releases = httpx.get(server.base_url + "/api/specs/ticket-triage/releases", headers=headers)
        assert len(releases.json()["items"]) == 1
