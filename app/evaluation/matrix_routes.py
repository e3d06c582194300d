"""Management API for model matrices: a version's suite on several models (admin scope)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Path, Query, Response, status

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.evaluation import matrix as service
from app.evaluation.matrix_runner import launch_matrix, open_matrix
from app.evaluation.matrix_schemas import MatrixList, MatrixRead, MatrixRequest
from app.evaluation.runner import EvaluatorDep
from app.models import ModelMatrix
from app.registry.routes import NumberParam, SpecDep
from app.registry.schemas import VERSION_MAX
from app.registry.service import SpecNotFound, VersionNotFound
from app.routing.budgets import BudgetExceeded
from app.security.auth import Forbidden, RateLimited, Unauthorized, requires
from app.serving.context import RuntimeDep

router = APIRouter(
    prefix="/api",
    tags=["testing"],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput, SpecNotFound),
)

MatrixIdParam = Annotated[uuid.UUID, Path(description="A model matrix id.")]


async def matrix_by_id(spec: SpecDep, matrix_id: MatrixIdParam, session: SessionDep) -> ModelMatrix:
    """Load the spec's matrix named in the path, or 404."""
    return await service.get_matrix(session, spec, matrix_id)


MatrixDep = Annotated[ModelMatrix, Depends(matrix_by_id)]


@router.post(
    "/specs/{name}/versions/{number}/model-matrix",
    dependencies=[requires("author")],
    status_code=status.HTTP_202_ACCEPTED,
    responses=responses(
        VersionNotFound, service.UnknownModels, service.MatrixWithoutCases, BudgetExceeded
    ),
)
async def start_matrix(
    spec: SpecDep,
    number: NumberParam,
    session: SessionDep,
    evaluator: EvaluatorDep,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    response: Response,
    body: Annotated[MatrixRequest | None, Body()] = None,
) -> MatrixRead:
    """Run the version's suite on each model (default: every configured alias), in the
    background; the answer holds what it should cost."""
    matrix, cost = await open_matrix(
        session, spec=spec, number=number, body=body or MatrixRequest(), evaluator=evaluator
    )
    background.add_task(launch_matrix, evaluator, matrix.id)
    response.headers["Location"] = f"/api/specs/{spec.name}/model-matrix/{matrix.id}"
    read = await service.read_matrix(session, matrix, runtime.services.catalog)
    return read.model_copy(update={"estimate": cost})


@router.get("/specs/{name}/model-matrix", dependencies=[requires("viewer")])
async def list_matrices(
    spec: SpecDep,
    session: SessionDep,
    runtime: RuntimeDep,
    version: Annotated[int | None, Query(ge=1, le=VERSION_MAX)] = None,
) -> MatrixList:
    """The spec's model matrices (of one version, if given), newest first."""
    matrices = await service.list_matrices(session, spec, version)
    catalog = runtime.services.catalog
    return MatrixList(items=[await service.read_matrix(session, m, catalog) for m in matrices])


@router.get(
    "/specs/{name}/model-matrix/{matrix_id}",
    dependencies=[requires("viewer")],
    responses=responses(service.MatrixNotFound),
)
async def get_matrix(matrix: MatrixDep, session: SessionDep, runtime: RuntimeDep) -> MatrixRead:
    """A model matrix: per model its pass rate, Wilson bound, invalid and re-ask rates, cost
    per valid call and latency; the recommended model; whether the models file moved on."""
    return await service.read_matrix(session, matrix, runtime.services.catalog)
