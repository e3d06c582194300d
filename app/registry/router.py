"""Management API for specs, versions and releases (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response, status

from app.compiler import compile_spec
from app.compiler.document import NAME_PATTERN, Limits, SpecDocument
from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.settings import Settings
from app.evaluation import service as evaluation
from app.evaluation.runner import EvaluatorDep, start_suite
from app.models import Spec
from app.registry import actions, service
from app.registry.diff import diff_documents
from app.registry.schemas import (
    VERSION_MAX,
    DiffChange,
    DiffRead,
    PublishRequest,
    ReleaseList,
    ReleaseRead,
    RollbackRequest,
    SpecCreate,
    SpecList,
    SpecRead,
    VersionCreate,
    VersionList,
    VersionRead,
    VersionSummary,
)
from app.releases.gates import publish_checked
from app.security.auth import AdminDep, Forbidden, RateLimited, Unauthorized, require_admin

router = APIRouter(
    prefix="/api/specs",
    tags=["specs"],
    dependencies=[Depends(require_admin)],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput),
)

NameParam = Annotated[str, Path(pattern=NAME_PATTERN, description="The spec's name (a slug).")]
NumberParam = Annotated[int, Path(ge=1, le=VERSION_MAX, description="A version number.")]


async def spec_by_name(session: SessionDep, name: NameParam) -> Spec:
    """Load the spec named in the path, or 404."""
    return await service.get_spec(session, name)


SpecDep = Annotated[Spec, Depends(spec_by_name)]


async def limits(request: Request) -> Limits:
    """Document bounds from the settings."""
    settings: Settings = request.app.state.settings
    return Limits(
        max_bytes=settings.max_document_bytes,
        max_rules=settings.max_rules,
        max_rule_chars=settings.max_rule_chars,
        max_schema_depth=settings.max_schema_depth,
    )


LimitsDep = Annotated[Limits, Depends(limits)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.SpecExists, service.DocumentInvalid),
)
async def create_spec(
    body: SpecCreate,
    session: SessionDep,
    principal: AdminDep,
    bounds: LimitsDep,
    response: Response,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
) -> SpecRead:
    """Create a spec from its document; the document becomes version 1."""
    document = service.validate_document(body.document, bounds)
    spec, _ = await actions.create_spec(
        session, document=document, message=body.message, principal=principal
    )
    await _start_tests(session, spec, 1, evaluator, background, response)
    response.headers["Location"] = f"/api/specs/{spec.name}"
    return SpecRead.model_validate(spec)


@router.get("")
async def list_specs(session: SessionDep) -> SpecList:
    """List every spec with its live and latest version."""
    return SpecList(items=[SpecRead.model_validate(s) for s in await service.list_specs(session)])


@router.get("/{name}", responses=responses(service.SpecNotFound))
async def get_spec(spec: SpecDep) -> SpecRead:
    """One spec with its live and latest version."""
    return SpecRead.model_validate(spec)


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.SpecNotFound, service.VersionConflict, service.DocumentInvalid),
)
async def create_version(
    body: VersionCreate,
    spec: SpecDep,
    session: SessionDep,
    principal: AdminDep,
    bounds: LimitsDep,
    response: Response,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
) -> VersionRead:
    """Save a new version on top of `base_version`; 409 if someone saved in between."""
    document = service.validate_document(body.document, bounds)
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


@router.get("/{name}/versions", responses=responses(service.SpecNotFound))
async def list_versions(spec: SpecDep, session: SessionDep) -> VersionList:
    """The version history of a spec, oldest first."""
    versions = await service.list_versions(session, spec)
    return VersionList(
        items=[
            VersionSummary.model_validate(v).model_copy(
                update={"live": v.version == spec.live_version}
            )
            for v in versions
        ]
    )


@router.get(
    "/{name}/versions/{number}",
    responses=responses(service.SpecNotFound, service.VersionNotFound),
)
async def get_version(spec: SpecDep, number: NumberParam, session: SessionDep) -> VersionRead:
    """One version with its full document."""
    return VersionRead.model_validate(await service.get_version(session, spec, number))


@router.get(
    "/{name}/versions/{number}/compiled",
    responses=responses(service.SpecNotFound, service.VersionNotFound),
)
async def get_compiled(spec: SpecDep, number: NumberParam, session: SessionDep) -> dict[str, Any]:
    """What the compiler makes of a version: prompt messages, provider schema, strictness."""
    version = await service.get_version(session, spec, number)
    document = SpecDocument.model_validate(version.document)
    return compile_spec(document, version.content_hash).public()


@router.get("/{name}/diff", responses=responses(service.SpecNotFound, service.VersionNotFound))
async def diff_versions(
    spec: SpecDep,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=VERSION_MAX)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=VERSION_MAX)],
) -> DiffRead:
    """Structural diff between two versions' documents (JSON Pointer paths)."""
    before = await service.get_version(session, spec, from_version)
    after = await service.get_version(session, spec, to_version)
    changes = [
        DiffChange(op=op, path=path, before=old, after=new)
        for op, path, old, new in diff_documents(before.document, after.document)
    ]
    return DiffRead(
        from_version=from_version,
        to_version=to_version,
        changes=changes,
        contract=service.version_contract(before, after),
    )


@router.post(
    "/{name}/publish",
    responses=responses(
        service.SpecNotFound,
        service.VersionNotFound,
        service.BreakingChange,
        evaluation.TestsNotPassed,
        evaluation.ForceWithoutReason,
    ),
)
async def publish(
    name: NameParam, body: PublishRequest, session: SessionDep, principal: AdminDep
) -> ReleaseRead:
    """Make a version live if its latest test run passed (or with `force` and a reason) and
    its contract is compatible with the live version's (or `confirm_breaking` is set)."""
    release = await publish_checked(
        session,
        name=name,
        version=body.version,
        principal=principal,
        reason=body.reason,
        force=body.force,
        confirm_breaking=body.confirm_breaking,
    )
    return ReleaseRead.model_validate(release)


@router.post(
    "/{name}/rollback",
    responses=responses(service.SpecNotFound, service.VersionNotFound, service.NothingToRollBack),
)
async def rollback(
    name: NameParam, body: RollbackRequest, session: SessionDep, principal: AdminDep
) -> ReleaseRead:
    """Move the live pointer back to a version (default: the previous live one)."""
    release = await actions.rollback(
        session, name=name, version=body.version, reason=body.reason, principal=principal
    )
    return ReleaseRead.model_validate(release)


@router.get("/{name}/releases", responses=responses(service.SpecNotFound))
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
