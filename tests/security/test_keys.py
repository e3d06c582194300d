"""API keys: created, listed without secrets, revoked, stored only as hashes, from the CLI."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from app import cli
from app.core.settings import Settings
from app.security.keys import hash_secret
from app.security.store import KeyStore
from tests.security.helpers import Key, live_spec, make_key


def _sync_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def dump_database(database_url: str) -> str:
    """Every text, varchar and json value of every table, as one string."""
    parts: list[str] = []
    with psycopg.connect(_sync_url(database_url)) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY')"
        ).fetchall()
        assert columns
        for table, column in columns:
            rows = conn.execute(f'SELECT "{column}"::text FROM "{table}"').fetchall()
            parts.extend(str(value) for (value,) in rows if value is not None)
    return "\n".join(parts)


async def test_create_list_revoke(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/keys", json={"name": "ci", "scopes": ["invoke"], "agents": ["alpha"], "rpm": 10}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("sk-sl-")
    assert len(secret) > 40
    assert body["prefix"] == secret[len("sk-sl-") :][:8]
    assert body["scopes"] == ["invoke"]
    assert body["agents"] == ["alpha"]
    assert body["rpm"] == 10

    listed = await client.get("/api/keys")
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert item["id"] == body["id"]
    assert "secret" not in item
    assert "hash" not in item
    assert secret not in listed.text
    assert hash_secret(secret) not in listed.text

    key = Key(body["id"], secret)
    await live_spec(client, "alpha")
    assert (
        await client.get("/v1/agents/alpha/openapi.json", headers=key.headers)
    ).status_code == 200
    revoked = await client.delete(f"/api/keys/{key.id}")
    assert revoked.status_code == 204
    after = await client.get("/v1/agents/alpha/openapi.json", headers=key.headers)
    assert after.status_code == 401
    [item] = (await client.get("/api/keys")).json()["items"]
    assert item["revoked_at"] is not None
    assert item["last_used_at"] is not None


async def test_revoking_an_unknown_key_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"/api/keys/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["invoke"]},
        {"name": "x", "scopes": ["invoke"], "agents": ["Not A Slug"]},
        {"name": "x", "scopes": ["invoke"], "rpm": 0},
        {"name": "x", "scopes": ["invoke"], "secret": "sk-sl-chosen"},
    ],
)
async def test_invalid_key_requests_are_422(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post("/api/keys", json=body)
    assert response.status_code == 422, response.text


async def test_an_admin_key_from_the_api_manages(client: httpx.AsyncClient) -> None:
    admin = await make_key(client, "admin", name="ops")
    response = await client.get("/api/keys", headers=admin.headers)
    assert response.status_code == 200


async def test_the_database_holds_no_secret(
    client: httpx.AsyncClient, database_url: str, settings: Settings
) -> None:
    secrets = [(await make_key(client, scope, name=scope)).secret for scope in ("admin", "invoke")]
    await live_spec(client, "alpha")
    for secret in secrets:
        call = await client.post(
            "/v1/agents/alpha",
            json={"subject": "s", "body": "b"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert call.status_code == 200
    dump = dump_database(database_url)
    assert hash_secret(secrets[0]) in dump  # the dump does see the key table
    assert settings.admin_key is not None
    for secret in [*secrets, settings.admin_key]:
        assert secret not in dump
        assert secret[len("sk-sl-") :] not in dump


async def test_revocation_reaches_other_processes_within_the_cache_ttl(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    key = await make_key(client, "invoke")
    store: KeyStore = app.state.keys
    other = KeyStore(store.sessionmaker, clock=store.clock, admin_key="unused", ttl_s=0.0)
    assert await other.authenticate(key.secret) is not None
    assert (await client.delete(f"/api/keys/{key.id}")).status_code == 204
    assert await other.authenticate(key.secret) is None


def test_cli_creates_a_key(
    settings: Settings,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    code = cli.main(
        ["keys", "create", "--name", "batch", "--scope", "invoke", "--agent", "a1", "--agent", "a2"]
    )
    assert code == 0
    out = capsys.readouterr().out
    secret = out.split("store it now): ")[1].strip()
    assert secret.startswith("sk-sl-")
    with psycopg.connect(_sync_url(database_url)) as conn:
        row = conn.execute("SELECT name, scopes, agents, hash FROM api_key").fetchone()
        actor = conn.execute("SELECT actor, action FROM audit_event").fetchone()
    assert row == ("batch", ["invoke"], ["a1", "a2"], hash_secret(secret))
    assert actor == ("cli", "key.created")
    assert secret not in dump_database(database_url)
