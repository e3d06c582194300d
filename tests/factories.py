"""Small builders of valid documents and specs; each test states only what it cares about."""

from __future__ import annotations

import copy
from typing import Any

import httpx


def make_document(name: str = "ticket-triage", **overrides: Any) -> dict[str, Any]:
    """A valid spec document, with top-level fields replaced by `overrides`."""
    document: dict[str, Any] = {
        "name": name,
        "title": "Support ticket triage",
        "description": "Classify an incoming support ticket.",
        "input_schema": {
            "type": "object",
            "properties": {
                "subject": {"type": "string", "maxLength": 200},
                "body": {"type": "string"},
            },
            "required": ["subject", "body"],
        },
        "rules": [
            "Billing questions go to the billing team.",
            "Anything mentioning a data breach is priority urgent.",
        ],
        "output_schema": {
            "type": "object",
            "properties": {
                "team": {"enum": ["billing", "technical", "sales", "security"]},
                "priority": {"enum": ["low", "normal", "high", "urgent"]},
                "summary": {"type": "string", "maxLength": 280},
            },
            "required": ["team", "priority", "summary"],
            "additionalProperties": False,
        },
        "examples": [
            {
                "input": {"subject": "Refund", "body": "I was charged twice"},
                "output": {"team": "billing", "priority": "normal", "summary": "Double charge"},
            }
        ],
        "model": {"name": "fast", "temperature": 0},
    }
    document.update(copy.deepcopy(overrides))
    return document


async def create_spec(
    client: httpx.AsyncClient, name: str = "ticket-triage", **overrides: Any
) -> dict[str, Any]:
    """Create a spec through the API and return its body."""
    response = await client.post("/api/specs", json={"document": make_document(name, **overrides)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_version(
    client: httpx.AsyncClient, name: str, base: int, **overrides: Any
) -> dict[str, Any]:
    """Save a new version of `name` on top of `base`."""
    response = await client.post(
        f"/api/specs/{name}/versions",
        json={
            "document": make_document(name, **overrides),
            "base_version": base,
            "message": "edit",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def publish(client: httpx.AsyncClient, name: str, version: int) -> dict[str, Any]:
    """Publish `version` of `name`."""
    response = await client.post(f"/api/specs/{name}/publish", json={"version": version})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
