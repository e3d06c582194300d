"""Per-key requests per minute, counted in Postgres so every process agrees."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import ADMIN_KEY, PgServer, fresh_database
from tests.security.helpers import live_spec, make_key
from tests.servers import running_servers


async def test_a_key_over_its_rpm_gets_429_with_retry_after(client: httpx.AsyncClient) -> None:
    await live_spec(client, "alpha")
    limited = await make_key(client, "invoke", rpm=3)
    other = await make_key(client, "invoke")
    statuses = []
    for _ in range(4):
        response = await client.get("/v1/agents/alpha/openapi.json", headers=limited.headers)
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 61
    assert response.json()["retryable"] is True
    # Other keys and the admin key have their own budgets of requests.
    assert (await client.get("/v1/agents/alpha/openapi.json", headers=other.headers)).is_success
    assert (await client.get("/api/keys")).is_success


def test_the_limit_holds_across_two_server_processes(pg_server: PgServer, tmp_path: Path) -> None:
    with fresh_database(pg_server) as database_url:
        env = {
            "SPECLOOM_DATABASE_URL": database_url,
            "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
            "SPECLOOM_DATA_DIR": str(tmp_path / "data"),
        }
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with running_servers(env, [tmp_path / "a.log", tmp_path / "b.log"]) as (a, b):
            created = httpx.post(
                f"{a.base_url}/api/keys",
                json={"name": "shared", "scopes": ["invoke"], "rpm": 4},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            key = {"Authorization": f"Bearer {created.json()['secret']}"}
            statuses = [
                httpx.get(f"{server.base_url}/v1/executions/{'0' * 32}", headers=key).status_code
                for server in (a, b, a, b, a, b)
            ]
    assert statuses == [404, 404, 404, 404, 429, 429]
