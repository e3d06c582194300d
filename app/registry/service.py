"""The spec registry: specs, immutable versions and the moves of the live pointer.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import InvalidDocument, SpecDocument, content_hash, parse_document
from app.core.errors import Conflict, InvalidInput, Issue, NotFound
from app.core.offload import off_loop
from app.core.setting_groups import DocumentLimits
from app.models import Release, Rollout, Spec, SpecVersion
from app.registry.contract import ContractDiff, classify_contract
from app.registry.file_cases import sync_file_cases

LIVE_CHANNEL = "specloom_live"
# session.info key: names of specs whose live pointer this transaction moved.
LIVE_CHANGED = "specloom_live_changed"


class SpecNotFound(NotFound):
    slug = "spec-not-found"
    title = "Spec not found"


class VersionNotFound(NotFound):
    slug = "version-not-found"
    title = "Version not found"


class SpecExists(Conflict):
    slug = "spec-exists"
    title = "Spec already exists"


class VersionConflict(Conflict):
    slug = "version-conflict"
    title = "Stale base version"


class NothingToRollBack(Conflict):
    slug = "nothing-to-roll-back"
    title = "Nothing to roll back to"


class NeverLive(Conflict):
    slug = "version-never-live"
    title = "Only a version that was live before can be rolled back to"


class RolloutRunning(Conflict):
    slug = "rollout-running"
    title = "A rollout is running"


class BreakingChange(Conflict):
    slug = "breaking-contract-change"
    title = "The version breaks the live version's contract"


class DocumentInvalid(InvalidInput):
    slug = "invalid-spec-document"
    title = "Invalid spec document"


def validate_document(
    data: Any, limits: DocumentLimits, *, prefix: str = "/document"
) -> SpecDocument:
    """Parse a document from a request body, or raise 422 with pointers into that body."""
    try:
        return parse_document(data, limits)
    except InvalidDocument as exc:
        issues = [Issue(prefix + i.pointer, i.message) for i in exc.issues]
        raise DocumentInvalid(
            f"the spec document has {len(issues)} problem(s)", issues=issues
        ) from None


async def create_spec(
    session: AsyncSession, *, document: SpecDocument, message: str, author: str
) -> tuple[Spec, SpecVersion]:
    """Create a spec and its version 1; 409 when the name is taken."""
    taken = await session.scalar(select(Spec.id).where(Spec.name == document.name))
    if taken is not None:
        raise SpecExists(f"a spec named {document.name!r} already exists")
    spec = Spec(name=document.name, title=document.title, latest_version=1, live_version=None)
    session.add(spec)
    await session.flush()
    version = _new_version(spec, document, 1, None, message, author)
    session.add(version)
    await session.flush()
    await sync_file_cases(session, spec, document.tests, document.rules)
    return spec, version


async def list_specs(session: AsyncSession) -> Sequence[Spec]:
    """Every spec, by name."""
    return (await session.scalars(select(Spec).order_by(Spec.name))).all()


async def get_spec(session: AsyncSession, name: str, *, for_update: bool = False) -> Spec:
    """The spec called `name`, or 404."""
    query = select(Spec).where(Spec.name == name)
    if for_update:
        query = query.with_for_update()
    spec = await session.scalar(query)
    if spec is None:
        raise SpecNotFound(f"no spec named {name!r}")
    return spec


async def create_version(
    session: AsyncSession,
    *,
    spec: Spec,
    document: SpecDocument,
    base_version: int,
    message: str,
    author: str,
) -> SpecVersion:
    """Add the next version on top of `base_version`; 409 unless that is still the latest.

    The check and the increment are one compare-and-set UPDATE, so of any number of writers
    starting from the same base exactly one wins.
    """
    if document.name != spec.name:
        raise DocumentInvalid(
            "the document's name must match the spec it is added to",
            issues=[Issue("/document/name", f"expected {spec.name!r}, got {document.name!r}")],
        )
    new_number = await session.scalar(
        update(Spec)
        .where(Spec.id == spec.id, Spec.latest_version == base_version)
        .values(latest_version=Spec.latest_version + 1, title=document.title)
        .returning(Spec.latest_version)
    )
    if new_number is None:
        latest = await session.scalar(select(Spec.latest_version).where(Spec.id == spec.id))
        raise VersionConflict(
            f"version {latest} was saved after version {base_version}; "
            "rebase your change on it and try again",
            extra={"latest_version": latest},
        )
    version = _new_version(spec, document, new_number, base_version, message, author)
    session.add(version)
    await session.flush()
    await sync_file_cases(session, spec, document.tests, document.rules)
    await session.refresh(spec)
    return version


async def list_versions(session: AsyncSession, spec: Spec) -> Sequence[SpecVersion]:
    """All versions of a spec, oldest first."""
    query = select(SpecVersion).where(SpecVersion.spec_id == spec.id).order_by(SpecVersion.version)
    return (await session.scalars(query)).all()


async def get_version(session: AsyncSession, spec: Spec, number: int) -> SpecVersion:
    """Version `number` of `spec`, or 404."""
    version = await session.scalar(
        select(SpecVersion).where(SpecVersion.spec_id == spec.id, SpecVersion.version == number)
    )
    if version is None:
        raise VersionNotFound(
            f"spec {spec.name!r} has no version {number} (latest is {spec.latest_version})"
        )
    return version


def version_contract(before: SpecVersion, after: SpecVersion) -> ContractDiff:
    """The contract diff from one version's schemas to another's."""
    return classify_contract(
        before.document.get("input_schema", {}),
        before.document.get("output_schema", {}),
        after.document.get("input_schema", {}),
        after.document.get("output_schema", {}),
        old_checks=before.document.get("checks", []),
        new_checks=after.document.get("checks", []),
    )


async def check_contract(
    session: AsyncSession, *, spec: Spec, version: int, confirm_breaking: bool
) -> ContractDiff | None:
    """The contract diff of `version` against the live version (None when nothing is live).

    Refuses (409, listing the breaking changes) a breaking one unless `confirm_breaking`.
    """
    if spec.live_version is None or spec.live_version == version:
        return None
    live = await get_version(session, spec, spec.live_version)
    contract = await off_loop(version_contract, live, await get_version(session, spec, version))
    if contract.breaking and not confirm_breaking:
        breaking = contract.breaking_changes
        raise BreakingChange(
            f"version {version} of {spec.name!r} makes {len(breaking)} breaking or "
            f"possibly breaking change(s) to the contract of live version {live.version}; "
            "publish with confirm_breaking: true to accept them",
            extra={"breaking_changes": [c.model_dump() for c in breaking]},
        )
    return contract


async def publish(
    session: AsyncSession,
    *,
    name: str,
    version: int,
    actor: str,
    reason: str | None = None,
    forced: bool = False,
    contract: ContractDiff | None = None,
    breaking_confirmed: bool = False,
) -> Release:
    """Point the spec's live pointer at `version` and record the release (with the contract
    diff it was published with)."""
    spec = await get_spec(session, name, for_update=True)
    await get_version(session, spec, version)
    release = await _move_live(session, spec, "publish", version, actor, reason, forced)
    release.contract = contract.model_dump() if contract is not None else None
    release.breaking_confirmed = breaking_confirmed and contract is not None and contract.breaking
    await session.flush()
    return release


async def rollback(
    session: AsyncSession,
    *,
    name: str,
    version: int | None,
    actor: str,
    reason: str | None = None,
) -> Release:
    """Move the live pointer back: to `version`, or to the one live before the current one.

    Only a version that was live before can be rolled back to: it passed publish's gates
    then. Any other version has to go through publish, where its tests and contract are
    checked.
    """
    spec = await get_spec(session, name, for_update=True)
    if spec.live_version is None:
        raise NothingToRollBack(f"spec {name!r} has never been published")
    releases = await list_releases(session, spec)
    earlier = was_live(releases) - {spec.live_version}
    if version is None:
        stack = live_stack(releases)
        if len(stack) < 2:
            raise NothingToRollBack(
                f"version {spec.live_version} is the first live version of {name!r}; "
                "there is no earlier live version to roll back to"
            )
        version = stack[-2]
    else:
        await get_version(session, spec, version)
        if version not in earlier and version != spec.live_version:
            raise NeverLive(
                f"version {version} of {name!r} has never been live, so rolling back to it "
                "would skip its tests and contract check; publish it instead, where both "
                "are checked",
                extra={"version": version, "rollback_versions": sorted(earlier)},
            )
    if version == spec.live_version:
        raise NothingToRollBack(f"version {version} of {name!r} is already live")
    return await _move_live(session, spec, "rollback", version, actor, reason, False)


# The release actions that moved the live pointer itself (a label's moves, a rollout's
# start and end and a shadow's leave it where it was).
POINTER_MOVES = ("publish", "rollback")


def was_live(releases: Sequence[Release]) -> set[int]:
    """Every version the live pointer has ever pointed at."""
    return {
        r.to_version for r in releases if r.action in POINTER_MOVES and r.to_version is not None
    }


def live_stack(releases: Sequence[Release]) -> list[int]:
    """The versions that were live, as a stack: a publish pushes, a rollback pops back to its
    target, so rolling back twice walks further back in time rather than flip-flopping."""
    stack: list[int] = []
    for release in releases:
        if release.action not in POINTER_MOVES or release.to_version is None:
            continue
        if release.action == "rollback" and release.to_version in stack:
            del stack[stack.index(release.to_version) + 1 :]
        else:
            stack.append(release.to_version)
    return stack


async def list_releases(session: AsyncSession, spec: Spec) -> Sequence[Release]:
    """Every move of the spec's live pointer, oldest first."""
    query = (
        select(Release).where(Release.spec_id == spec.id).order_by(Release.created_at, Release.id)
    )
    return (await session.scalars(query)).all()


async def _move_live(
    session: AsyncSession,
    spec: Spec,
    action: str,
    version: int,
    actor: str,
    reason: str | None,
    forced: bool,
) -> Release:
    running = await session.scalar(
        select(Rollout.version).where(Rollout.spec_id == spec.id, Rollout.status == "running")
    )
    if running is not None:
        # The rollout's live arm is the live version: moving it under the rollout would mix
        # its figures. Promote or abort the rollout first.
        raise RolloutRunning(
            f"a rollout of version {running} of {spec.name!r} is running; promote or abort it "
            "before moving the live pointer"
        )
    from_version = spec.live_version
    spec.live_version = version
    return await add_release(
        session,
        spec,
        action=action,
        from_version=from_version,
        to_version=version,
        actor=actor,
        reason=reason,
        forced=forced,
    )


async def add_release(
    session: AsyncSession,
    spec: Spec,
    *,
    action: str,
    from_version: int | None,
    to_version: int | None,
    actor: str,
    reason: str | None,
    label: str = "production",
    forced: bool = False,
    details: dict[str, Any] | None = None,
) -> Release:
    """Record one move of what callers of `spec` get (a release row) and tell every process."""
    release = Release(
        spec_id=spec.id,
        action=action,
        label=label,
        from_version=from_version,
        to_version=to_version,
        actor=actor,
        reason=reason,
        forced=forced,
        details=details,
    )
    session.add(release)
    await serving_changed(session, spec.name)
    await session.flush()
    await session.refresh(release)
    return release


async def serving_changed(session: AsyncSession, name: str) -> None:
    """Make every process read again what serves `name` (its live pointer, labels, rollout
    and shadow, or the model matrix its `auto` versions follow) once this transaction
    commits."""
    session.info.setdefault(LIVE_CHANGED, set()).add(name)
    # Every server process listens on this channel and drops what it cached of the agent;
    # the notification is delivered on commit, so nobody sees a move that was rolled back.
    await session.execute(
        text("SELECT pg_notify(:channel, :name)"), {"channel": LIVE_CHANNEL, "name": name}
    )


def _new_version(
    spec: Spec,
    document: SpecDocument,
    number: int,
    parent: int | None,
    message: str,
    author: str,
) -> SpecVersion:
    return SpecVersion(
        spec_id=spec.id,
        version=number,
        document=document.canonical(),
        content_hash=content_hash(document),
        parent_version=parent,
        author=author,
        message=message,
    )
