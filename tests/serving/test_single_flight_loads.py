"""A burst of calls needing the same thing from Postgres makes one read, not one per call:
an agent's live version not yet in memory, and an API key whose cached lookup expired."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from app.security.store import KeyStore, Principal
from app.serving.live import AgentVersion, LiveAgents
from tests.factories import create_spec, publish
from tests.security.helpers import make_key


async def test_a_burst_on_an_agent_not_in_memory_loads_it_once(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_spec(client, "burst-agent")
    await publish(client, "burst-agent", 1)
    live = LiveAgents(app.state.sessionmaker)  # a process that has not served it yet
    loads = 0
    load = live._load_live

    async def counting(name: str) -> AgentVersion | None:
        nonlocal loads
        loads += 1
        return await load(name)

    monkeypatch.setattr(live, "_load_live", counting)
    agents = await asyncio.gather(*(live.get("burst-agent") for _ in range(50)))
    assert loads == 1
    assert {(a.name, a.version) for a in agents} == {("burst-agent", 1)}
    live.invalidate("burst-agent")  # a publish or rollback: the next call reads again
    await live.get("burst-agent")
    assert loads == 2


async def test_a_burst_on_an_expired_key_looks_it_up_once(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await make_key(client, "invoke")
    store: KeyStore = app.state.keys
    other = KeyStore(store.sessionmaker, clock=store.clock, admin_key="unused", ttl_s=60)
    loads = 0
    load = other._load

    async def counting(digest: str) -> Principal | None:
        nonlocal loads
        loads += 1
        return await load(digest)

    monkeypatch.setattr(other, "_load", counting)
    principals = await asyncio.gather(*(other.authenticate(key.secret) for _ in range(50)))
    assert loads == 1
    assert {p.key_id if p is not None else None for p in principals} == {uuid.UUID(key.id)}


async def test_a_revocation_during_a_lookup_keeps_its_result_out_of_the_cache(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await make_key(client, "invoke")
    store: KeyStore = app.state.keys
    other = KeyStore(store.sessionmaker, clock=store.clock, admin_key="unused", ttl_s=60)
    load = other._load
    revoked = asyncio.Event()

    async def slow(digest: str) -> Principal | None:
        found = await load(digest)  # read before the revocation below
        await revoked.wait()
        return found

    monkeypatch.setattr(other, "_load", slow)
    pending = asyncio.create_task(other.authenticate(key.secret))
    await asyncio.sleep(0.05)
    assert (await client.delete(f"/api/keys/{key.id}")).status_code == 204
    other.forget(uuid.UUID(key.id))
    revoked.set()
    assert await pending is not None  # that call read the key before it was revoked
    monkeypatch.setattr(other, "_load", load)
    assert await other.authenticate(key.secret) is None  # nothing stale was cached
