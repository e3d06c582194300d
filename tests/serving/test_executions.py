"""The execution log: written off the hot path, filterable, and never lost on shutdown."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.settings import Settings
from app.main import create_app
from app.models import Attempt, Execution
from tests.conftest import ADMIN_KEY
from tests.fakes.upstream import FakeUpstream, Text, Valid
from tests.serving.conftest import live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}


async def test_list_filters_and_pages(api: httpx.AsyncClient, upstream: FakeUpstream) -> None:
    await live_agent(api, model={"name": "fast"})
    await live_agent(api, "other-agent", model={"name": "fast"})
    for _ in range(3):
        await api.post("/v1/agents/ticket-triage", json=INPUT)
    await api.post("/v1/agents/ticket-triage", json={"subject": "no body"})
    await api.post("/v1/agents/other-agent", json=INPUT)

    async def listed(**params: str | int) -> list[dict[str, object]]:
        # Reading waits for nothing: the writer may still hold rows, so ask until they land.
        response = await api.get("/api/executions", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, object]] = response.json()["items"]
        return items

    await _settle(api, 5)
    assert len(await listed(agent="ticket-triage")) == 4
    assert len(await listed(agent="ticket-triage", status="failed")) == 1
    assert len(await listed(agent="other-agent")) == 1
    assert len(await listed(version=2)) == 0

    first = (await api.get("/api/executions", params={"limit": 2})).json()
    assert len(first["items"]) == 2
    second = (
        await api.get("/api/executions", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await api.get("/api/executions", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    ids = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert third["next_cursor"] is None
    not_a_cursor = await api.get("/api/executions", params={"cursor": "garbage!"})
    assert not_a_cursor.status_code == 422  # outside the documented alphabet
    forged = await api.get("/api/executions", params={"cursor": "Z2FyYmFnZQ"})
    assert forged.status_code == 400
    assert forged.json()["detail"] == "the cursor is not one this API gave out"


async def _settle(api: httpx.AsyncClient, count: int) -> None:
    import asyncio

    for _ in range(100):
        if len((await api.get("/api/executions", params={"limit": 500})).json()["items"]) >= count:
            return
        await asyncio.sleep(0.02)


async def test_no_record_is_lost_on_graceful_shutdown(
    serving_settings: Settings, upstream: FakeUpstream, database_url: str
) -> None:
    settings = serving_settings.model_copy(update={"execution_flush_interval_s": 30.0})
    app: FastAPI = create_app(settings)
    upstream.script(Text("not json at all"), Valid())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as api:
            await live_agent(api, model={"name": "fast"})
            codes = [
                (await api.post("/v1/agents/ticket-triage", json=INPUT)).status_code
                for _ in range(25)
            ]
        assert codes == [200] * 25
    # The flush interval is far away: only the shutdown drain can have written these.
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Execution)) == 25
        assert await conn.scalar(select(func.count()).select_from(Attempt)) == 26
    await engine.dispose()
