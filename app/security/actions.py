"""API-key changes as the API and the web app make them: the change, its audit event and
this process forgetting a revoked key, written once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiKey
from app.security import audit, keys
from app.security.roles import Scope
from app.security.store import KeyStore, Principal


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    scopes: Sequence[Scope],
    agents: Sequence[str] | None,
    rpm: int | None,
    principal: Principal,
    labels: Sequence[str] | None = None,
) -> keys.CreatedKey:
    """A new key (its secret shown once, by the caller); audited as `key.created`."""
    created = await keys.create_key(
        session, name=name, scopes=scopes, agents=agents, rpm=rpm, labels=labels
    )
    key = created.key
    await audit.record(
        session,
        actor=principal.actor,
        action="key.created",
        target=f"key:{key.id}",
        details={
            "name": key.name,
            "scopes": key.scopes,
            "agents": key.agents,
            "labels": key.labels,
            "rpm": key.rpm,
        },
    )
    return created


async def revoke_key(
    session: AsyncSession, key_id: uuid.UUID, *, store: KeyStore, principal: Principal
) -> ApiKey:
    """Revoke a key, at once in this process; audited as `key.revoked`."""
    key = await keys.revoke_key(session, key_id)
    await audit.record(
        session,
        actor=principal.actor,
        action="key.revoked",
        target=f"key:{key.id}",
        details={"name": key.name},
    )
    store.forget(key_id)
    return key
