"""Publishing with both gates (contract and tests) and its audit entry, through the agent's
guardrails (who may publish, approvals), shared by the `POST /api/specs/{name}/publish`
route and the web app's Publish form; a rollout's start passes the same gates."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.evaluation import matrix
from app.evaluation import service as evaluation
from app.models import Release, ReleaseRequest, Rollout
from app.registry import rollouts, service
from app.registry.labels import Who
from app.releases import guardrails
from app.releases.schemas import RolloutCreate
from app.security import audit
from app.security.store import Principal


async def publish_checked(
    session: AsyncSession,
    *,
    name: str,
    version: int,
    principal: Principal,
    reason: str | None,
    force: bool,
    confirm_breaking: bool,
) -> Release:
    """Make `version` live if its contract is compatible with the live version's (or
    `confirm_breaking`) and its latest test run passed (or `force` with a reason); audited.

    Raises BreakingChange (409, listing the breaking changes), TestsNotPassed,
    ModelMatrixMissing (an `auto` version no finished model matrix measured) or
    ForceWithoutReason before anything changes.
    """
    spec = await service.get_spec(session, name)
    stored = await service.get_version(session, spec, version)
    contract = await service.check_contract(
        session, spec=spec, version=version, confirm_breaking=confirm_breaking
    )
    gate = await evaluation.check_publish(
        session, spec=spec, version=version, force=force, reason=reason
    )
    model_gate = await matrix.check_auto(session, spec=spec, version=stored, force=force)
    release = await service.publish(
        session,
        name=name,
        version=version,
        actor=principal.label,
        reason=reason,
        forced=force,
        contract=contract,
        breaking_confirmed=confirm_breaking,
    )
    await audit.record(
        session,
        actor=principal.actor,
        action="spec.force_published" if force else "spec.published",
        target=f"spec:{name}",
        details={
            "from_version": release.from_version,
            "to_version": release.to_version,
            "reason": reason,
            "test_gate": gate or ("forced" if force else "passed"),
            "contract": contract_note(release.contract, release.breaking_confirmed),
            **({"model_gate": model_gate} if model_gate else {}),
        },
    )
    return release


def contract_note(contract: dict[str, Any] | None, confirmed: bool) -> str:
    """How a release's contract check went, in the audit trail's words."""
    if contract is None:
        return "nothing live to compare with"
    if contract.get("breaking"):  # a may-break change needs the same confirmation
        changes = contract.get("changes") or []
        certain = any(
            c.get("verdict", "breaking") == "breaking" for c in changes if c.get("breaking")
        )
        label = "breaking" if certain else "may break"
        return f"{label}, confirmed" if confirmed else label
    return "compatible"


async def rollout_checked(
    session: AsyncSession,
    *,
    name: str,
    body: RolloutCreate,
    principal: Principal,
) -> Rollout:
    """Start a rollout of `body.version` if it passes publish's gates (its contract and its
    latest test run, or `force` with a reason); audited."""
    spec = await service.get_spec(session, name, for_update=True)
    # A rollout puts the version live for some callers: only the agent's publishers may.
    guardrails.check_may_publish(await guardrails.guardrails_of(session, spec), principal, spec)
    await service.get_version(session, spec, body.version)
    contract = await service.check_contract(
        session, spec=spec, version=body.version, confirm_breaking=body.confirm_breaking
    )
    gate = await evaluation.check_publish(
        session, spec=spec, version=body.version, force=body.force, reason=body.reason
    )
    gates = {
        "test_gate": gate or ("forced" if body.force else "passed"),
        "contract": contract_note(contract.model_dump() if contract else None,
                                  body.confirm_breaking),
    }  # fmt: skip
    return await rollouts.start_rollout(
        session,
        spec=spec,
        version=body.version,
        percent=body.percent,
        guard=body.guard.model_dump(),
        gates=gates,
        who=who(principal),
        reason=body.reason,
        forced=body.force,
    )


def who(principal: Principal) -> Who:
    """A principal as release rows and the audit trail name it."""
    return Who(release=principal.label, audit=principal.actor)


async def publish_or_request(
    session: AsyncSession,
    *,
    name: str,
    version: int,
    principal: Principal,
    reason: str | None,
    force: bool,
    confirm_breaking: bool,
) -> Release | ReleaseRequest:
    """Publish through the agent's guardrails: 403 unless the caller is among its
    publishers; with approvals on, a pending release request instead of a release."""
    spec = await service.get_spec(session, name)
    guard = await guardrails.guardrails_of(session, spec)
    guardrails.check_may_publish(guard, principal, spec)
    if guard is not None and guard.require_approval:
        return await guardrails.request_publish(
            session,
            spec=spec,
            version=version,
            principal=principal,
            reason=reason,
            force=force,
            confirm_breaking=confirm_breaking,
        )
    return await publish_checked(
        session,
        name=name,
        version=version,
        principal=principal,
        reason=reason,
        force=force,
        confirm_breaking=confirm_breaking,
    )


async def decide_request(
    session: AsyncSession,
    *,
    name: str,
    request_id: uuid.UUID,
    approve: bool,
    principal: Principal,
    note: str | None,
) -> tuple[ReleaseRequest, Release | None]:
    """Approve (then publish, through both gates again, as the approver) or reject a pending
    release request. A publish refused now leaves the request pending."""
    spec = await service.get_spec(session, name)
    request = await guardrails.get_request(session, spec, request_id, for_update=True)
    if approve:
        guardrails.check_may_publish(await guardrails.guardrails_of(session, spec), principal, spec)
    await guardrails.decide(session, request, approve=approve, principal=principal, note=note)
    release = None
    if approve:
        release = await publish_checked(
            session,
            name=name,
            version=request.version,
            principal=principal,
            reason=request.reason or f"requested by {request.requester_label}",
            force=request.force,
            confirm_breaking=request.confirm_breaking,
        )
    await guardrails.record_decision(session, spec, request, principal, release)
    return request, release
