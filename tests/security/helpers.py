"""Helpers of the security tests: keys made through the API, routes of the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Mount

from app.serving.openapi import route_contexts
from tests.factories import create_spec


@dataclass(frozen=True)
class Key:
    id: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


async def make_key(
    admin: httpx.AsyncClient,
    *scopes: str,
    name: str = "test key",
    agents: list[str] | None = None,
    rpm: int | None = None,
) -> Key:
    """Create a key through the API (as admin) and return its id and one-time secret."""
    body: dict[str, Any] = {"name": name, "scopes": list(scopes) or ["invoke"]}
    if agents is not None:
        body["agents"] = agents
    if rpm is not None:
        body["rpm"] = rpm
    response = await admin.post("/api/keys", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return Key(id=created["id"], secret=created["secret"])


async def live_spec(admin: httpx.AsyncClient, name: str) -> None:
    """Create and publish a spec (served by the offline model)."""
    await create_spec(admin, name)
    published = await admin.post(f"/api/specs/{name}/publish", json={"version": 1})
    assert published.status_code == 200, published.text


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route the app serves, however routers are nested."""
    for method, path, _ in routes_with_objects(app):
        yield method, path


def routes_with_objects(app: FastAPI) -> list[tuple[str, str, Any]]:
    """(method, path template, route) of every route; `{id:uuid}` is `{id}`."""
    rows: list[tuple[str, str, Any]] = []
    for route in route_contexts(app):
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", getattr(route, "path", ""))
        if isinstance(route, Mount):
            rows.append(("GET", path + "/{path}", route))
            continue
        rows.extend((m, path, route) for m in sorted(getattr(route, "methods", None) or ()))
    return [row for row in rows if row[0] != "HEAD"]
