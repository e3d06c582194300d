"""Management API for test cases and test runs (admin scope)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    Path,
    Query,
    Request,
    Response,
    status,
)

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.setting_groups import FileLimits
from app.core.settings import Settings
from app.evaluation import actions, service
from app.evaluation import cases as case_service
from app.evaluation.coverage import rule_coverage
from app.evaluation.generate import CaseGenerationFailed
from app.evaluation.promote import (
    ExecutionNotFound,
    ExecutionNotPromotable,
    draft_from_execution,
)
from app.evaluation.runner import EvaluatorDep, start_suite
from app.evaluation.schemas import (
    CaseList,
    CaseRead,
    CaseWrite,
    ComparisonRead,
    Coverage,
    GenerateRequest,
    PromoteRequest,
    PromotionDraft,
    RunRead,
)
from app.executions.routes import WriterDep
from app.models import TestCase, TestRun
from app.registry.routes import NumberParam, SpecDep
from app.registry.schemas import VERSION_MAX
from app.registry.service import SpecNotFound, VersionNotFound, get_version
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires
from app.serving.context import CallContext, RuntimeDep

router = APIRouter(
    prefix="/api",
    tags=["testing"],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput),
)

CaseIdParam = Annotated[uuid.UUID, Path(description="A test case id.")]
RunIdParam = Annotated[uuid.UUID, Path(description="A test run id.")]


async def case_by_id(spec: SpecDep, case_id: CaseIdParam, session: SessionDep) -> TestCase:
    """Load the case named in the path, or 404."""
    return await case_service.get_case(session, spec, case_id)


CaseDep = Annotated[TestCase, Depends(case_by_id)]


async def run_by_id(run_id: RunIdParam, session: SessionDep) -> TestRun:
    """Load the run named in the path, or 404."""
    return await service.get_run(session, run_id)


RunDep = Annotated[TestRun, Depends(run_by_id)]


async def call_context(runtime: RuntimeDep) -> CallContext:
    """What the app's calls use (models, routing, cache, files, the execution writer)."""
    return runtime.context


CallsDep = Annotated[CallContext, Depends(call_context)]


async def file_limits(request: Request) -> FileLimits:
    """What a case's files may be (`settings.files`), as for a call's."""
    settings: Settings = request.app.state.settings
    return settings.files


FileLimitsDep = Annotated[FileLimits, Depends(file_limits)]


@router.get(
    "/specs/{name}/cases", responses=responses(SpecNotFound), dependencies=[requires("viewer")]
)
async def list_cases(spec: SpecDep, session: SessionDep) -> CaseList:
    """Every test case of a spec, by name."""
    cases = await case_service.list_cases(session, spec)
    return CaseList(items=[CaseRead.model_validate(c) for c in cases])


@router.post(
    "/specs/{name}/cases",
    status_code=status.HTTP_201_CREATED,
    responses=responses(SpecNotFound, case_service.CaseExists, case_service.CaseInvalid),
    dependencies=[requires("author")],
)
async def create_case(
    body: CaseWrite,
    spec: SpecDep,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    limits: FileLimitsDep,
) -> CaseRead:
    """Add a test case; its input must fit the latest version's input schema."""
    case = await case_service.create_case(session, spec=spec, body=body, limits=limits)
    await actions.case_changed(session, principal, spec, case, "created")
    response.headers["Location"] = f"/api/specs/{spec.name}/cases/{case.id}"
    return CaseRead.model_validate(case)


@router.post(
    "/specs/{name}/cases/generate",
    responses=responses(SpecNotFound, VersionNotFound, CaseGenerationFailed),
    dependencies=[requires("author")],
)
async def generate(
    spec: SpecDep,
    session: SessionDep,
    principal: PrincipalDep,
    calls: CallsDep,
    body: Annotated[GenerateRequest | None, Body()] = None,
) -> CaseList:
    """Generate cases (origin `generated`) from the input schema, the examples and, written by
    the configured model, one per rule; returns the cases created or refreshed."""
    request = body or GenerateRequest()
    generated = await actions.generate(
        session,
        spec.name,
        request.version,
        calls=calls,
        kinds=request.kinds,
        principal=principal,
    )
    return CaseList(items=[CaseRead.model_validate(c) for c in generated])


@router.get(
    "/specs/{name}/coverage",
    responses=responses(SpecNotFound, VersionNotFound),
    dependencies=[requires("viewer")],
)
async def coverage(
    spec: SpecDep,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
) -> Coverage:
    """Every rule of a version (default: the latest), the cases exercising it, and the
    rules no case exercises."""
    return await rule_coverage(session, spec.name, version)


@router.post(
    "/executions/{execution_id}/promote",
    responses=responses(ExecutionNotFound, ExecutionNotPromotable, SpecNotFound),
    dependencies=[requires("author")],
)
async def promote(
    execution_id: Annotated[uuid.UUID, Path(description="An execution id.")],
    session: SessionDep,
    principal: PrincipalDep,
    writer: WriterDep,
    body: Annotated[PromoteRequest | None, Body()] = None,
) -> PromotionDraft:
    """A draft test case from a succeeded, unredacted execution: its input, and assertions
    on its output's fields. Nothing is saved: the expected values are the model's own
    answer, so check them and POST the draft's `case` to `save` to make it a case (origin
    `promoted`)."""
    await writer.wait_written(execution_id)  # a call made a moment ago
    return await draft_from_execution(session, execution_id, body or PromoteRequest())


# `:uuid`: `/cases/generate` with another method is a 405, not a bad case id.
@router.get(
    "/specs/{name}/cases/{case_id:uuid}",
    responses=responses(case_service.CaseNotFound),
    dependencies=[requires("viewer")],
)
async def get_case(case: CaseDep) -> CaseRead:
    """One test case."""
    return CaseRead.model_validate(case)


@router.put(
    "/specs/{name}/cases/{case_id:uuid}",
    responses=responses(
        case_service.CaseNotFound, case_service.CaseExists, case_service.CaseInvalid
    ),
    dependencies=[requires("author")],
)
async def update_case(
    body: CaseWrite,
    spec: SpecDep,
    case: CaseDep,
    session: SessionDep,
    principal: PrincipalDep,
    limits: FileLimitsDep,
) -> CaseRead:
    """Replace a test case."""
    case = await case_service.update_case(session, spec=spec, case=case, body=body, limits=limits)
    await actions.case_changed(session, principal, spec, case, "updated")
    return CaseRead.model_validate(case)


@router.delete(
    "/specs/{name}/cases/{case_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(case_service.CaseNotFound),
    dependencies=[requires("author")],
)
async def delete_case(
    spec: SpecDep, case: CaseDep, session: SessionDep, principal: PrincipalDep
) -> None:
    """Delete a test case (past results keep its name)."""
    await actions.case_changed(session, principal, spec, case, "deleted")
    await case_service.delete_case(session, case)


@router.post(
    "/specs/{name}/versions/{number}/test-runs",
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(SpecNotFound, VersionNotFound),
    dependencies=[requires("author")],
)
async def start_run(
    spec: SpecDep,
    number: NumberParam,
    session: SessionDep,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
    response: Response,
) -> RunRead:
    """Run the spec's test cases against a version, in the background."""
    await get_version(session, spec, number)
    run = await start_suite(
        session, spec=spec, version=number, evaluator=evaluator, background=background, always=True
    )
    assert run is not None
    response.headers["Location"] = f"/api/test-runs/{run.id}"
    return await service.read_run(session, run)


@router.get(
    "/test-runs/{run_id}",
    responses=responses(service.RunNotFound),
    dependencies=[requires("viewer")],
)
async def get_run(run: RunDep, session: SessionDep) -> RunRead:
    """A test run: status, progress, per-case and per-assertion pass rates, every attempt."""
    return await service.read_run(session, run)


@router.get(
    "/test-runs/{run_id}/compare",
    responses=responses(service.RunNotFound),
    dependencies=[requires("viewer")],
)
async def compare_run(run: RunDep, session: SessionDep) -> ComparisonRead:
    """The run against the live version's latest run: improved, regressed, unchanged, new."""
    return await service.compare(session, run)
