"""Guardrails an admin sets per agent, and the publishes that wait for a second publisher.

- `publishers`: who may publish the agent (people by email address, keys by name); unset,
  every publisher may. Admins always may: they set the list.
- `require_approval`: a publish becomes a pending release request; another publisher
  approves it (the gates run again then, and the release is made) or rejects it. The one
  who asked can withdraw (reject) their request but never approve it.
- `rules_only`: authors may change rules, examples, tests and wording, not the contract
  (the input and output schemas), so callers' API stays stable; publishers and admins may.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import SpecDocument
from app.core.errors import Conflict, NotFound, ProblemError
from app.evaluation import service as evaluation
from app.models import AgentGuardrails, Release, ReleaseRequest, Spec
from app.registry import service
from app.security import audit
from app.security.roles import rank
from app.security.store import Principal

CONTRACT_FIELDS = ("input_schema", "output_schema")


class NotAPublisherHere(ProblemError):
    status = 403
    slug = "not-a-publisher-of-this-agent"
    title = "Not among this agent's publishers"


class ContractLocked(ProblemError):
    status = 403
    slug = "contract-locked"
    title = "This agent is in rules-only mode: its contract cannot be changed by authors"


class SelfApproval(ProblemError):
    status = 403
    slug = "self-approval"
    title = "A publish needs a second person: the requester cannot approve it"


class RequestDecided(Conflict):
    slug = "release-request-decided"
    title = "The release request was already decided"


class RequestNotFound(NotFound):
    slug = "release-request-not-found"
    title = "Release request not found"


async def guardrails_of(session: AsyncSession, spec: Spec) -> AgentGuardrails | None:
    """The agent's guardrails (None: none set, every default applies)."""
    return await session.get(AgentGuardrails, spec.id)


async def set_guardrails(
    session: AsyncSession,
    spec: Spec,
    *,
    publishers: Sequence[str] | None,
    require_approval: bool,
    rules_only: bool,
    principal: Principal,
) -> AgentGuardrails:
    """Replace the agent's guardrails; audited as `guardrails.changed`."""
    guard = await guardrails_of(session, spec) or AgentGuardrails(spec_id=spec.id)
    guard.publishers = sorted({p.strip() for p in publishers}) if publishers is not None else None
    guard.require_approval = require_approval
    guard.rules_only = rules_only
    guard.updated_by = principal.label
    now = await session.scalar(select(func.clock_timestamp()))
    assert now is not None
    guard.updated_at = now
    session.add(guard)
    await session.flush()
    await audit.record(
        session,
        actor=principal.actor,
        action="guardrails.changed",
        target=f"spec:{spec.name}",
        details={
            "publishers": guard.publishers,
            "require_approval": require_approval,
            "rules_only": rules_only,
        },
    )
    return guard


def check_may_publish(guard: AgentGuardrails | None, principal: Principal, spec: Spec) -> None:
    """403 unless `principal` is among the agent's publishers (admins always are)."""
    if guard is None or guard.publishers is None or principal.is_admin:
        return
    if principal.name in guard.publishers:  # a person's email address, or a key's name
        return
    raise NotAPublisherHere(
        f"only {', '.join(guard.publishers) or 'admins'} may publish {spec.name!r} "
        "(its guardrails, set by an admin)",
        extra={"publishers": guard.publishers},
    )


async def check_contract_change(
    session: AsyncSession, spec: Spec, document: SpecDocument, principal: Principal
) -> None:
    """In rules-only mode, refuse (403 `contract-locked`) a version by an author whose input
    or output schema differs from the latest version's."""
    if rank(principal.role or "") >= rank("publisher"):
        return
    guard = await guardrails_of(session, spec)
    if guard is None or not guard.rules_only:
        return
    latest = await service.get_version(session, spec, spec.latest_version)
    new = document.canonical()
    changed = [f for f in CONTRACT_FIELDS if latest.document.get(f) != new.get(f)]
    if changed:
        raise ContractLocked(
            f"{spec.name!r} is in rules-only mode: authors may change its rules and examples, "
            f"not its contract ({' and '.join(changed)} changed); ask a publisher or an admin",
            extra={"changed": changed},
        )


async def request_publish(
    session: AsyncSession,
    *,
    spec: Spec,
    version: int,
    principal: Principal,
    reason: str | None,
    force: bool,
    confirm_breaking: bool,
) -> ReleaseRequest:
    """A pending release request; the gates run now too, so a publish that would be refused
    is refused before anyone is asked to approve it. Audited as `release.requested`."""
    await service.get_version(session, spec, version)
    await service.check_contract(
        session, spec=spec, version=version, confirm_breaking=confirm_breaking
    )
    await evaluation.check_publish(session, spec=spec, version=version, force=force, reason=reason)
    request = ReleaseRequest(
        spec_id=spec.id,
        version=version,
        status="pending",
        requested_by=principal.actor,
        requester_label=principal.label,
        reason=reason,
        force=force,
        confirm_breaking=confirm_breaking,
    )
    session.add(request)
    await session.flush()
    await session.refresh(request)
    await audit.record(
        session,
        actor=principal.actor,
        action="release.requested",
        target=f"spec:{spec.name}",
        details={"request": str(request.id), "version": version, "reason": reason},
    )
    return request


async def get_request(
    session: AsyncSession, spec: Spec, request_id: uuid.UUID, *, for_update: bool = False
) -> ReleaseRequest:
    """One release request of `spec`, or 404."""
    query = select(ReleaseRequest).where(
        ReleaseRequest.id == request_id, ReleaseRequest.spec_id == spec.id
    )
    request = await session.scalar(query.with_for_update() if for_update else query)
    if request is None:
        raise RequestNotFound(f"{spec.name!r} has no release request {request_id}")
    return request


async def list_requests(
    session: AsyncSession, spec: Spec, *, status: str | None = None
) -> Sequence[ReleaseRequest]:
    """The agent's release requests, newest first."""
    query = select(ReleaseRequest).where(ReleaseRequest.spec_id == spec.id)
    if status is not None:
        query = query.where(ReleaseRequest.status == status)
    query = query.order_by(ReleaseRequest.created_at.desc(), ReleaseRequest.id)
    return (await session.scalars(query)).all()


async def decide(
    session: AsyncSession,
    request: ReleaseRequest,
    *,
    approve: bool,
    principal: Principal,
    note: str | None,
) -> None:
    """Mark a pending request approved or rejected (409 when already decided; 403 when the
    requester tries to approve their own); audited. The caller makes the release."""
    if request.status != "pending":
        raise RequestDecided(
            f"this release request was already {request.status} by {request.decided_by}",
            extra={"status": request.status},
        )
    if approve and principal.actor == request.requested_by:
        raise SelfApproval(
            "you asked for this publish; another publisher has to approve it",
            extra={"requested_by": request.requester_label},
        )
    request.status = "approved" if approve else "rejected"
    request.decided_by = principal.label
    request.decided_at = await session.scalar(select(func.clock_timestamp()))
    request.note = note
    await session.flush()


async def record_decision(
    session: AsyncSession,
    spec: Spec,
    request: ReleaseRequest,
    principal: Principal,
    release: Release | None,
) -> None:
    """The audit event of a decision, after the release (if any) was made."""
    if release is not None:
        request.release_id = release.id
    await audit.record(
        session,
        actor=principal.actor,
        action="release.approved" if release is not None else "release.rejected",
        target=f"spec:{spec.name}",
        details={
            "request": str(request.id),
            "version": request.version,
            "requested_by": request.requester_label,
            "note": request.note,
        },
    )


def evidence_summary(run: Any) -> dict[str, Any] | None:
    """What an approver sees of the version's latest test run."""
    if run is None:
        return None
    return {
        "id": str(run.id),
        "status": run.status,
        "passed": run.passed,
        "offline": run.offline,
        "failing_cases": run.failing_cases,
    }
