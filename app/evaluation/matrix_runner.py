"""Running a model matrix in the background: each model's test run in turn, then the verdict.

Models run one after another, each run at most `evaluation.concurrency` calls at a time
(and each deployment at most its `max_concurrency`), so a matrix never asks more of the
providers than a test run does; every call passes the budgets and rate limits of the call
path. When it finishes, every process drops the versions that follow its choice (`auto`).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.evaluation.cases import list_cases
from app.evaluation.matrix import (
    MatrixWithoutCases,
    matrix_models,
    matrix_rows,
    queue_matrix,
    ranking,
)
from app.evaluation.matrix_estimate import estimate
from app.evaluation.matrix_schemas import Estimate, MatrixRequest
from app.evaluation.runner import Evaluator
from app.models import ModelMatrix, Spec, TestRun
from app.registry.service import get_version, serving_changed
from app.serving.live import agent_version

log = structlog.get_logger(__name__)


async def open_matrix(
    session: AsyncSession,
    *,
    spec: Spec,
    number: int,
    body: MatrixRequest,
    evaluator: Evaluator,
) -> tuple[ModelMatrix, Estimate]:
    """Queue a matrix of version `number` and say what it should cost; 422 for unknown
    models, 409 without test cases, 429 when a budget covering the agent is spent."""
    version = await get_version(session, spec, number)
    services = evaluator.calls.services
    models = matrix_models(services.catalog, body.models, services.options.default_model)
    cases = await list_cases(session, spec)
    if not cases:
        raise MatrixWithoutCases(
            f"{spec.name!r} has no test cases: add some before comparing models"
        )
    if services.budgets is not None:
        await services.budgets.check(spec.name)  # raises BudgetExceeded when spent
    agent = agent_version(spec.name, number, version.document, version.content_hash)
    cost = estimate(
        agent,
        [{"input": c.input, "repeat": c.repeat} for c in cases],
        models,
        services.catalog,
        body.repeat,
    )
    matrix = await queue_matrix(
        session,
        spec=spec,
        version=version,
        body=body,
        models=models,
        catalog=services.catalog,
        estimate_usd=cost.cost_usd,
    )
    return matrix, cost


def start_matrix(evaluator: Evaluator, matrix_id: uuid.UUID) -> asyncio.Task[None]:
    """Run the (committed) matrix in the background."""
    return evaluator.spawn(run_matrix(evaluator, matrix_id), name=f"model-matrix-{matrix_id}")


async def launch_matrix(evaluator: Evaluator, matrix_id: uuid.UUID) -> None:
    """`start_matrix` as an async background task of a response (so it runs on the loop)."""
    start_matrix(evaluator, matrix_id)


async def run_matrix(evaluator: Evaluator, matrix_id: uuid.UUID) -> None:
    """Run every model's suite, then rank the models; a failure ends it as an error."""
    try:
        await _run(evaluator, matrix_id)
    except asyncio.CancelledError:
        await _finish_error(evaluator, matrix_id, "the server stopped before the matrix finished")
        raise
    except Exception as exc:  # a matrix must end in a state, whatever went wrong
        log.exception("model matrix failed", model_matrix_id=str(matrix_id))
        await _finish_error(evaluator, matrix_id, f"{type(exc).__name__}: {exc}"[:2000])


async def _run(evaluator: Evaluator, matrix_id: uuid.UUID) -> None:
    async with evaluator.sessionmaker() as session:
        matrix = await session.get_one(ModelMatrix, matrix_id)
        matrix.status, matrix.started_at = "running", datetime.now(UTC)
        runs = {
            run.model: run.id
            for run in await session.scalars(select(TestRun).where(TestRun.matrix_id == matrix_id))
        }
        order = [runs[m] for m in matrix.models if m in runs]
        await session.commit()
    for run_id in order:
        await evaluator.run(run_id)
    async with evaluator.sessionmaker() as session:
        matrix = await session.get_one(ModelMatrix, matrix_id)
        chosen = ranking(await matrix_rows(session, matrix))
        matrix.ranking, matrix.recommended = chosen, chosen[0] if chosen else None
        matrix.status, matrix.finished_at = "finished", datetime.now(UTC)
        name = await session.scalar(select(Spec.name).where(Spec.id == matrix.spec_id))
        await serving_changed(session, str(name))
        await session.commit()


async def _finish_error(evaluator: Evaluator, matrix_id: uuid.UUID, message: str) -> None:
    async with evaluator.sessionmaker() as session:
        await session.execute(
            update(ModelMatrix)
            .where(ModelMatrix.id == matrix_id)
            .values(status="error", error=message, finished_at=datetime.now(UTC))
        )
        await session.commit()
