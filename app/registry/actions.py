"""Registry changes as the API and the web app make them: the service call and its audit
event, written once. (Publishing, with its gates, is `publishing.publish_checked`.)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import SpecDocument
from app.models import Release, Spec, SpecVersion
from app.registry import service
from app.security import audit
from app.security.store import Principal


async def create_spec(
    session: AsyncSession, *, document: SpecDocument, message: str, principal: Principal
) -> tuple[Spec, SpecVersion]:
    """A new spec with `document` as version 1; audited as `spec.created`."""
    spec, version = await service.create_spec(
        session, document=document, message=message, author=principal.label
    )
    await audit.record(
        session,
        actor=principal.actor,
        action="spec.created",
        target=f"spec:{spec.name}",
        details={"version": 1, "content_hash": version.content_hash},
    )
    return spec, version


async def create_version(
    session: AsyncSession,
    *,
    spec: Spec,
    document: SpecDocument,
    base_version: int,
    message: str,
    principal: Principal,
) -> SpecVersion:
    """A new version on top of `base_version` (409 when stale); audited as `version.created`."""
    version = await service.create_version(
        session,
        spec=spec,
        document=document,
        base_version=base_version,
        message=message,
        author=principal.label,
    )
    await audit.record(
        session,
        actor=principal.actor,
        action="version.created",
        target=f"spec:{spec.name}",
        details={"version": version.version, "base_version": base_version},
    )
    return version


async def rollback(
    session: AsyncSession,
    *,
    name: str,
    version: int | None,
    reason: str | None,
    principal: Principal,
) -> Release:
    """Move the live pointer back; audited as `spec.rolled_back`."""
    release = await service.rollback(
        session, name=name, version=version, actor=principal.label, reason=reason
    )
    await audit.record(
        session,
        actor=principal.actor,
        action="spec.rolled_back",
        target=f"spec:{name}",
        details={
            "from_version": release.from_version,
            "to_version": release.to_version,
            "reason": reason,
        },
    )
    return release
