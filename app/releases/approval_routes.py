"""An agent's guardrails (set by admins) and its release requests (publishes awaiting a
second publisher's approval)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.offload import off_loop
from app.evaluation import service as evaluation
from app.models import ReleaseRequest, Spec
from app.registry import service
from app.registry.diff import diff_documents
from app.registry.routes import NameParam, SpecDep
from app.registry.schemas import DiffChange, DiffRead, ReleaseRead
from app.releases import guardrails
from app.releases.gates import decide_request
from app.releases.guardrail_schemas import (
    DecisionRequest,
    GuardrailsRead,
    GuardrailsWrite,
    ReleaseRequestDetail,
    ReleaseRequestList,
    ReleaseRequestRead,
)
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires

router = APIRouter(
    prefix="/api/specs",
    tags=["guardrails"],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput),
)

RequestIdParam = Annotated[uuid.UUID, Path(description="A release request id.")]


@router.get(
    "/{name}/guardrails",
    responses=responses(service.SpecNotFound),
    dependencies=[requires("viewer")],
)
async def get_guardrails(spec: SpecDep, session: SessionDep) -> GuardrailsRead:
    """Who may publish the agent, whether publishes need approval, whether it is rules-only."""
    guard = await guardrails.guardrails_of(session, spec)
    return GuardrailsRead.model_validate(guard) if guard is not None else GuardrailsRead()


@router.put(
    "/{name}/guardrails",
    responses=responses(service.SpecNotFound),
    dependencies=[requires("admin")],
)
async def put_guardrails(
    body: GuardrailsWrite, spec: SpecDep, session: SessionDep, principal: PrincipalDep
) -> GuardrailsRead:
    """Set the agent's guardrails (all of them: fields left out get their defaults)."""
    guard = await guardrails.set_guardrails(
        session,
        spec,
        publishers=body.publishers,
        require_approval=body.require_approval,
        rules_only=body.rules_only,
        principal=principal,
    )
    return GuardrailsRead.model_validate(guard)


@router.get(
    "/{name}/release-requests",
    responses=responses(service.SpecNotFound),
    dependencies=[requires("viewer")],
)
async def list_release_requests(
    spec: SpecDep,
    session: SessionDep,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query()] = None,
) -> ReleaseRequestList:
    """The agent's release requests, newest first (`?status=pending` for those waiting)."""
    rows = await guardrails.list_requests(session, spec, status=status)
    return ReleaseRequestList(items=[ReleaseRequestRead.model_validate(r) for r in rows])


@router.get(
    "/{name}/release-requests/{request_id}",
    responses=responses(service.SpecNotFound, guardrails.RequestNotFound),
    dependencies=[requires("viewer")],
)
async def get_release_request(
    spec: SpecDep, request_id: RequestIdParam, session: SessionDep
) -> ReleaseRequestDetail:
    """One release request with what an approver needs: the diff from the live version and
    the requested version's latest test run."""
    request = await guardrails.get_request(session, spec, request_id)
    return await request_detail(session, spec, request)


async def request_detail(
    session: SessionDep, spec: Spec, request: ReleaseRequest
) -> ReleaseRequestDetail:
    """A request with its diff against the live version and its test evidence."""
    detail = ReleaseRequestDetail.model_validate(request)
    after = await service.get_version(session, spec, request.version)
    if spec.live_version is not None:
        before = await service.get_version(session, spec, spec.live_version)
        detail.diff = DiffRead(
            from_version=before.version,
            to_version=after.version,
            changes=[
                DiffChange(op=op, path=path, before=old, after=new)
                for op, path, old, new in diff_documents(before.document, after.document)
            ],
            contract=await off_loop(service.version_contract, before, after),
        )
    run = await evaluation.latest_run(session, spec, request.version)
    if run is not None:
        view = await evaluation.read_run(session, run)
        detail.tests = guardrails.evidence_summary(view)
    return detail


_DECISION_ERRORS = responses(
    service.SpecNotFound,
    guardrails.RequestNotFound,
    guardrails.RequestDecided,
    guardrails.SelfApproval,
    guardrails.NotAPublisherHere,
    service.BreakingChange,
    evaluation.TestsNotPassed,
    evaluation.OfflineEvidence,
)


@router.post(
    "/{name}/release-requests/{request_id}/approve",
    responses=_DECISION_ERRORS,
    dependencies=[requires("publisher")],
)
async def approve_release_request(
    name: NameParam,
    request_id: RequestIdParam,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[DecisionRequest | None, Body()] = None,
) -> ReleaseRead:
    """Approve another publisher's request: the version goes live (both gates run again)."""
    _, release = await decide_request(
        session,
        name=name,
        request_id=request_id,
        approve=True,
        principal=principal,
        note=(body or DecisionRequest()).note,
    )
    assert release is not None
    return ReleaseRead.model_validate(release)


@router.post(
    "/{name}/release-requests/{request_id}/reject",
    responses=_DECISION_ERRORS,
    dependencies=[requires("publisher")],
)
async def reject_release_request(
    name: NameParam,
    request_id: RequestIdParam,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[DecisionRequest | None, Body()] = None,
) -> ReleaseRequestRead:
    """Reject a request (the requester may withdraw their own this way); nothing goes live."""
    request, _ = await decide_request(
        session,
        name=name,
        request_id=request_id,
        approve=False,
        principal=principal,
        note=(body or DecisionRequest()).note,
    )
    return ReleaseRequestRead.model_validate(request)
