"""Reading specs, versions, compiled prompts and diffs (viewer and up)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from app.compiler import compile_spec
from app.compiler.document import NAME_PATTERN, SpecDocument
from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.offload import off_loop
from app.core.setting_groups import DocumentLimits
from app.core.settings import Settings
from app.models import Spec
from app.registry import service
from app.registry.diff import diff_documents
from app.registry.schemas import (
    VERSION_MAX,
    DiffChange,
    DiffRead,
    SpecList,
    SpecRead,
    VersionList,
    VersionRead,
    VersionSummary,
)
from app.security.auth import Forbidden, RateLimited, Unauthorized, requires

router = APIRouter(
    prefix="/api/specs",
    tags=["specs"],
    dependencies=[requires("viewer")],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput),
)

NameParam = Annotated[str, Path(pattern=NAME_PATTERN, description="The spec's name (a slug).")]
NumberParam = Annotated[int, Path(ge=1, le=VERSION_MAX, description="A version number.")]


async def spec_by_name(session: SessionDep, name: NameParam) -> Spec:
    """Load the spec named in the path, or 404."""
    return await service.get_spec(session, name)


SpecDep = Annotated[Spec, Depends(spec_by_name)]


async def limits(request: Request) -> DocumentLimits:
    """Document bounds from the settings."""
    settings: Settings = request.app.state.settings
    return settings.documents


LimitsDep = Annotated[DocumentLimits, Depends(limits)]


@router.get("")
async def list_specs(session: SessionDep) -> SpecList:
    """List every spec with its live and latest version."""
    return SpecList(items=[SpecRead.model_validate(s) for s in await service.list_specs(session)])


@router.get("/{name}", responses=responses(service.SpecNotFound))
async def get_spec(spec: SpecDep) -> SpecRead:
    """One spec with its live and latest version."""
    return SpecRead.model_validate(spec)


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
    return (await off_loop(compile_spec, document, version.content_hash)).public()


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
        contract=await off_loop(service.version_contract, before, after),
    )
