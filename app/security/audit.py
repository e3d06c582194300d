"""The audit trail: one row per management action, written in the action's transaction.

Services never commit; the request session commits once, so an action and its audit event
are stored together or not at all.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest
from app.models import AuditEvent

Action = Literal[
    "spec.created",
    "version.created",
    "spec.published",
    "spec.rolled_back",
    "spec.force_published",
    "label.set",
    "label.removed",
    "rollout.started",
    "rollout.promoted",
    "rollout.aborted",
    "rollout.rolled_back",
    "shadow.started",
    "shadow.stopped",
    "key.created",
    "key.revoked",
    "budget.created",
    "budget.deleted",
    "case.changed",
    "case.generated",
    "case.promoted",
    "ui.signed_in",
    "person.invited",
    "person.joined",
    "person.changed",
    "person.invitation_revoked",
    "guardrails.changed",
    "release.requested",
    "release.approved",
    "release.rejected",
]


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: Action,
    target: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction."""
    event = AuditEvent(
        id=uuid.uuid4(), actor=actor, action=action, target=target, details=details or {}
    )
    session.add(event)
    await session.flush()
    await session.refresh(event)
    return event


async def list_events(
    session: AsyncSession,
    *,
    action: str | None = None,
    target: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Newest first, filtered; keyset pagination with an opaque cursor."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if target is not None:
        query = query.where(AuditEvent.target == target)
    if cursor:  # an empty cursor is the first page
        at, last_id = _decode_cursor(cursor)
        query = query.where(tuple_(AuditEvent.at, AuditEvent.id) < (at, last_id))
    rows = (await session.scalars(query.limit(limit + 1))).all()
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _encode_cursor(event: AuditEvent) -> str:
    raw = f"{event.at.isoformat()}|{event.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except ValueError:
        raise BadRequest("the cursor is not one this API gave out") from None
