"""What the versions page shows of an agent's guardrails and its release requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Spec
from app.releases import guardrails
from app.releases.approval_routes import request_detail


async def release_panel(session: AsyncSession, spec: Spec) -> dict[str, Any]:
    """The agent's guardrails and its pending requests, each with its diff and test run."""
    pending = await guardrails.list_requests(session, spec, status="pending")
    return {
        "guard": await guardrails.guardrails_of(session, spec),
        "pending": [await request_detail(session, spec, r) for r in pending],
    }
