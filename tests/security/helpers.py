"""Helpers of the security tests: keys made through the API, routes of the app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Mount

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
    for method, path in _app_routes(app):
        yield method, re.sub(r"\{(\w+):\w+\}", r"{\1}", path)  # `{id:uuid}` is `{id}`


def _app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI's included router: flatten it
            for context in contexts():
                for method in sorted(getattr(context, "methods", None) or ()):
                    if method != "HEAD":
                        yield method, context.path
        elif isinstance(route, Mount):
            yield "GET", route.path + "/{path}"
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, getattr(route, "path", "")
