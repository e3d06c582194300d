"""Changing what an agent does: saving a spec or a version (which starts its test suite by
itself) and moving the live pointer, by publish through its gates or by rollback."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Response, status

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.offload import off_loop
from app.evaluation import service as evaluation
from app.evaluation.runner import EvaluatorDep, start_suite
from app.models import ReleaseRequest, Spec
from app.registry import actions, service
from app.registry.routes import LimitsDep, NameParam, SpecDep
from app.registry.schemas import (
    PublishRequest,
    ReleaseList,
    ReleaseRead,
    RollbackRequest,
    SpecCreate,
    SpecRead,
    VersionCreate,
    VersionRead,
)
from app.releases import guardrails
from app.releases.gates import publish_or_request
from app.releases.guardrail_schemas import ReleaseRequestRead
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires

router = APIRouter(
    prefix="/api/specs",
    tags=["specs"],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.SpecExists, service.DocumentInvalid),
    dependencies=[requires("author")],
)
async def create_spec(
    body: SpecCreate,
    session: SessionDep,
    principal: PrincipalDep,
    bounds: LimitsDep,
    response: Response,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
) -> SpecRead:
    """Create a spec from its document; the document becomes version 1."""
    document = await off_loop(service.validate_document, body.document, bounds)
    spec, _ = await actions.create_spec(
        session, document=document, message=body.message, principal=principal
    )
    await _start_tests(session, spec, 1, evaluator, background, response)
    response.headers["Location"] = f"/api/specs/{spec.name}"
    return SpecRead.model_validate(spec)


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        service.SpecNotFound,
        service.VersionConflict,
        service.DocumentInvalid,
        guardrails.ContractLocked,
    ),
    dependencies=[requires("author")],
)
async def create_version(
    body: VersionCreate,
    spec: SpecDep,
    session: SessionDep,
    principal: PrincipalDep,
    bounds: LimitsDep,
    response: Response,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
) -> VersionRead:
    """Save a new version on top of `base_version`; 409 if someone saved in between."""
    document = await off_loop(service.validate_document, body.document, bounds)
    await guardrails.check_contract_change(session, spec, document, principal)
    version = await actions.create_version(
        session,
        spec=spec,
        document=document,
        base_version=body.base_version,
        message=body.message,
        principal=principal,
    )
    await _start_tests(session, spec, version.version, evaluator, background, response)
    response.headers["Location"] = f"/api/specs/{spec.name}/versions/{version.version}"
    return VersionRead.model_validate(version)


@router.post(
    "/{name}/publish",
    responses=responses(
        service.SpecNotFound,
        service.VersionNotFound,
        service.BreakingChange,
        evaluation.TestsNotPassed,
        evaluation.OfflineEvidence,
        evaluation.ForceWithoutReason,
        guardrails.NotAPublisherHere,
    ),
    dependencies=[requires("publisher")],
)
async def publish(
    name: NameParam,
    body: PublishRequest,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> ReleaseRead | ReleaseRequestRead:
    """Make a version live if its latest test run passed (or with `force` and a reason) and
    its contract is compatible with the live version's (or `confirm_breaking` is set). With
    the agent's approvals on, 202 and a pending release request instead."""
    release = await publish_or_request(
        session,
        name=name,
        version=body.version,
        principal=principal,
        reason=body.reason,
        force=body.force,
        confirm_breaking=body.confirm_breaking,
    )
    if isinstance(release, ReleaseRequest):
        response.status_code = status.HTTP_202_ACCEPTED
        response.headers["Location"] = f"/api/specs/{name}/release-requests/{release.id}"
        return ReleaseRequestRead.model_validate(release)
    return ReleaseRead.model_validate(release)


@router.post(
    "/{name}/rollback",
    responses=responses(service.SpecNotFound, service.VersionNotFound, service.NothingToRollBack),
    dependencies=[requires("publisher")],
)
async def rollback(
    name: NameParam, body: RollbackRequest, session: SessionDep, principal: PrincipalDep
) -> ReleaseRead:
    """Move the live pointer back to a version (default: the previous live one)."""
    release = await actions.rollback(
        session, name=name, version=body.version, reason=body.reason, principal=principal
    )
    return ReleaseRead.model_validate(release)


@router.get(
    "/{name}/releases", responses=responses(service.SpecNotFound), dependencies=[requires("viewer")]
)
async def list_releases(spec: SpecDep, session: SessionDep) -> ReleaseList:
    """Every publish and rollback of the spec, oldest first."""
    releases = await service.list_releases(session, spec)
    return ReleaseList(items=[ReleaseRead.model_validate(r) for r in releases])


async def _start_tests(
    session: SessionDep,
    spec: Spec,
    version: int,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
    response: Response,
) -> None:
    """A new version runs its suite by itself (when the spec has cases)."""
    run = await start_suite(
        session, spec=spec, version=version, evaluator=evaluator, background=background
    )
    if run is not None:
        response.headers["X-Specloom-Test-Run"] = str(run.id)
