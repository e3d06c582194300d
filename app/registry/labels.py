"""Labels: named pointers at versions (`staging`, `eu-customers`) that callers choose with
`?label=` or `X-Specloom-Label`. `production` is the live pointer itself, moved only by
publish, rollback and rollouts; every other label moves here, as a release row and an
audit event in the same transaction.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, InvalidInput, Issue, NotFound
from app.core.schemas import LABEL_PATTERN
from app.models import Label, Spec
from app.registry.service import add_release, get_version
from app.security import audit

PRODUCTION = "production"
_LABEL = re.compile(LABEL_PATTERN)


class LabelNotFound(NotFound):
    slug = "label-not-found"
    title = "Label not found"


class LabelReserved(Conflict):
    slug = "label-reserved"
    title = "The production label moves only by publish, rollback and rollouts"


@dataclass(frozen=True)
class Who:
    """Who moves a pointer: as release rows name them, and as the audit trail does."""

    release: str
    audit: str


@dataclass(frozen=True)
class LabelView:
    """A label as callers read it."""

    label: str
    version: int
    actor: str | None  # None for production: its moves are the release history
    updated_at: datetime | None


def checked_label(raw: str, where: str) -> str:
    """`raw` if it is a label's slug, else 422 pointing at `where`."""
    if not _LABEL.match(raw):
        raise InvalidInput(
            "a label is a slug: lowercase letters, digits and dashes, starting with a letter",
            issues=[Issue(where, f"got {raw[:100]!r}")],
        )
    return raw


def _not_production(label: str) -> None:
    if label == PRODUCTION:
        raise LabelReserved(
            "`production` is the live pointer: move it with publish, rollback or a rollout"
        )


async def list_labels(session: AsyncSession, spec: Spec) -> list[LabelView]:
    """The spec's labels by name, `production` (the live version) first when it is live."""
    rows = (
        await session.scalars(select(Label).where(Label.spec_id == spec.id).order_by(Label.name))
    ).all()
    views = [LabelView(r.name, r.version, r.actor, r.updated_at) for r in rows]
    if spec.live_version is not None:
        views.insert(0, LabelView(PRODUCTION, spec.live_version, None, None))
    return views


async def labels_of(session: AsyncSession, spec_id: object) -> dict[str, int]:
    """label → version of one spec (production left out: it is the live pointer)."""
    rows = await session.execute(select(Label.name, Label.version).where(Label.spec_id == spec_id))
    return {name: version for name, version in rows.tuples()}


async def set_label(
    session: AsyncSession,
    *,
    spec: Spec,
    label: str,
    version: int,
    who: Who,
    reason: str | None,
) -> LabelView:
    """Point `label` at `version` (created if new); a release row and an audit event."""
    _not_production(label)
    await get_version(session, spec, version)
    row = await session.scalar(
        select(Label).where(Label.spec_id == spec.id, Label.name == label).with_for_update()
    )
    before = row.version if row is not None else None
    if row is None:
        row = Label(spec_id=spec.id, name=label, version=version, actor=who.release)
        session.add(row)
    else:
        row.version, row.actor = version, who.release
        row.updated_at = func.clock_timestamp()
    await add_release(
        session,
        spec,
        action="label",
        label=label,
        from_version=before,
        to_version=version,
        actor=who.release,
        reason=reason,
    )
    await _audit(session, who, "label.set", spec, label, before, version, reason)
    await session.refresh(row)
    return LabelView(row.name, row.version, row.actor, row.updated_at)


async def remove_label(
    session: AsyncSession, *, spec: Spec, label: str, who: Who, reason: str | None
) -> None:
    """Remove `label`; 404 when the spec has no such label."""
    _not_production(label)
    before = await session.scalar(
        delete(Label).where(Label.spec_id == spec.id, Label.name == label).returning(Label.version)
    )
    if before is None:
        raise LabelNotFound(f"spec {spec.name!r} has no label {label!r}")
    await add_release(
        session,
        spec,
        action="unlabel",
        label=label,
        from_version=before,
        to_version=None,
        actor=who.release,
        reason=reason,
    )
    await _audit(session, who, "label.removed", spec, label, before, None, reason)


async def _audit(
    session: AsyncSession,
    who: Who,
    action: audit.Action,
    spec: Spec,
    label: str,
    before: int | None,
    after: int | None,
    reason: str | None,
) -> None:
    await audit.record(
        session,
        actor=who.audit,
        action=action,
        target=f"spec:{spec.name}",
        details={"label": label, "from_version": before, "to_version": after, "reason": reason},
    )
