"""Model matrices: a version's suite run on each model, and the model the evidence picks.

Each model's run is an ordinary test run (`runner.Evaluator`) pinned to that model alone,
owned by the matrix; it never serves as the version's own test run. A model *passes* when
its run's verdict passed; the recommendation is the cheapest passing model by what its calls
cost per valid answer (re-asks included), ties broken by median latency. Services take the
session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import AUTO_MODEL, SpecDocument, behaviour_hash
from app.core.errors import Conflict, InvalidInput, Issue, NotFound
from app.core.stats import wilson_lower
from app.evaluation.matrix_schemas import MatrixRead, MatrixRequest, MatrixRow, MatrixStatus
from app.evaluation.runner import queue_run
from app.models import ModelMatrix, Spec, SpecVersion, TestResult, TestRun
from app.providers.catalog import ModelCatalog
from app.serving.live import latest_matrix


class MatrixNotFound(NotFound):
    slug = "model-matrix-not-found"
    title = "Model matrix not found"


class MatrixWithoutCases(Conflict):
    slug = "model-matrix-without-cases"
    title = "The spec has no test cases to run on the models"


class UnknownModels(InvalidInput):
    slug = "unknown-models"
    title = "Models not in the models file"


class ModelMatrixMissing(Conflict):
    slug = "model-matrix-missing"
    title = "An auto version has no finished model matrix"


def fingerprint(catalog: ModelCatalog, models: Sequence[str]) -> str:
    """What the models file says of `models` (their deployments), hashed: a matrix whose
    fingerprint differs from today's measured models configured otherwise."""
    entries = {
        name: [
            {k: v for k, v in dataclasses.asdict(d).items() if k != "lean"}
            for d in catalog.resolve(name)
        ]
        for name in sorted(set(models))
    }
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def matrix_models(catalog: ModelCatalog, requested: list[str] | None, default: str) -> list[str]:
    """The models to try: those asked for (each an alias or a configured deployment's model
    string), or every alias; 422 naming each unknown one."""
    if requested is None:
        return catalog.aliases() or [default]
    if catalog.offline:
        return list(dict.fromkeys(requested))
    known = set(catalog.aliases()) | {
        d.model for deployments in catalog.deployments.values() for d in deployments
    }
    issues = [
        Issue(f"/models/{i}", f"{name!r} is neither an alias nor a model of the models file")
        for i, name in enumerate(requested)
        if name not in known
    ]
    if issues:
        raise UnknownModels(f"{len(issues)} model(s) are not configured", issues=issues)
    return list(dict.fromkeys(requested))


async def queue_matrix(
    session: AsyncSession,
    *,
    spec: Spec,
    version: SpecVersion,
    body: MatrixRequest,
    models: list[str],
    catalog: ModelCatalog,
    estimate_usd: float,
) -> ModelMatrix:
    """A queued matrix of `version` over `models`, with one queued test run per model."""
    matrix = ModelMatrix(
        spec_id=spec.id,
        version=version.version,
        behaviour_hash=behaviour_hash(version.document),
        status="queued",
        models=models,
        repeat=body.repeat,
        fingerprint=fingerprint(catalog, models),
        estimate_usd=estimate_usd,
        ranking=[],
    )
    session.add(matrix)
    await session.flush()
    for model in models:
        run = await queue_run(session, spec=spec, version=version.version, repeat=body.repeat)
        run.matrix_id, run.model = matrix.id, model
    await session.flush()
    await session.refresh(matrix)
    return matrix


async def get_matrix(session: AsyncSession, spec: Spec, matrix_id: uuid.UUID) -> ModelMatrix:
    """The spec's matrix, or 404."""
    matrix = await session.get(ModelMatrix, matrix_id)
    if matrix is None or matrix.spec_id != spec.id:
        raise MatrixNotFound(f"{spec.name!r} has no model matrix {matrix_id}")
    return matrix


async def list_matrices(
    session: AsyncSession, spec: Spec, version: int | None = None
) -> list[ModelMatrix]:
    """The spec's matrices (of one version, if given), newest first."""
    query = select(ModelMatrix).where(ModelMatrix.spec_id == spec.id)
    if version is not None:
        query = query.where(ModelMatrix.version == version)
    return list(await session.scalars(query.order_by(ModelMatrix.created_at.desc()).limit(100)))


async def latest_finished(
    session: AsyncSession, spec_id: uuid.UUID, document: dict[str, Any]
) -> ModelMatrix | None:
    """The latest finished matrix measuring `document`'s behaviour (any of its versions)."""
    found: ModelMatrix | None = await session.scalar(latest_matrix(spec_id, document))
    return found


async def matrix_rows(session: AsyncSession, matrix: ModelMatrix) -> list[MatrixRow]:
    """Every model's evidence, in the order the models were asked for."""
    runs = {
        run.model: run
        for run in await session.scalars(select(TestRun).where(TestRun.matrix_id == matrix.id))
    }
    results: dict[uuid.UUID, list[TestResult]] = {run.id: [] for run in runs.values()}
    query = select(TestResult).where(TestResult.run_id.in_(list(results)))
    for result in await session.scalars(query):
        results[result.run_id].append(result)
    return [
        row(str(model), runs[model], results[runs[model].id])
        for model in matrix.models
        if model in runs
    ]


def row(model: str, run: TestRun, results: Sequence[TestResult]) -> MatrixRow:
    """One model's figures from its run's results."""
    calls = len(results)
    passes = sum(1 for r in results if r.passed)
    valid = sum(1 for r in results if r.output is not None)
    cost = sum(r.cost_usd for r in results)
    latencies = sorted(r.latency_ms for r in results)
    return MatrixRow(
        model=model,
        status=run.status,
        test_run=run.id,
        calls=calls,
        pass_rate=passes / calls if calls else 0.0,
        wilson_lower=wilson_lower(passes, calls) if calls else 0.0,
        passed=run.passed,
        check_failures=sum(r.check_failures for r in results),
        invalid_rate=(calls - valid) / calls if calls else 0.0,
        reasks_per_call=sum(r.reasks for r in results) / calls if calls else 0.0,
        cost_usd_per_call=cost / valid if valid else None,
        cost_usd=cost,
        p50_latency_ms=_quantile(latencies, 0.5),
        p95_latency_ms=_quantile(latencies, 0.95),
        offline=run.offline,
    )


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    if len(ordered) == 1:
        return ordered[0]
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return cuts[round(q * 100) - 1]


def ranking(rows: Sequence[MatrixRow]) -> list[str]:
    """Passing models, cheapest per valid call first, ties by median latency. A model
    answered by the offline model passed nothing: its answers are placeholders."""
    passing = [
        r
        for r in rows
        if r.status == "passed" and not r.offline and r.cost_usd_per_call is not None
    ]
    passing.sort(key=lambda r: (r.cost_usd_per_call or 0.0, r.p50_latency_ms or 0.0))
    return [r.model for r in passing]


async def read_matrix(
    session: AsyncSession, matrix: ModelMatrix, catalog: ModelCatalog
) -> MatrixRead:
    """The matrix as the API shows it: its rows, recommendation and staleness."""
    name = await session.scalar(select(Spec.name).where(Spec.id == matrix.spec_id))
    rows = await matrix_rows(session, matrix)
    return MatrixRead(
        id=matrix.id,
        spec=str(name),
        version=matrix.version,
        status=cast(MatrixStatus, matrix.status),
        models=list(matrix.models),
        repeat=matrix.repeat,
        estimate_usd=matrix.estimate_usd,
        cost_usd=sum(r.cost_usd for r in rows),
        rows=rows,
        recommended=matrix.recommended,
        ranking=list(matrix.ranking),
        stale=is_stale(matrix, catalog),
        error=matrix.error,
        created_at=matrix.created_at,
        started_at=matrix.started_at,
        finished_at=matrix.finished_at,
    )


def is_stale(matrix: ModelMatrix, catalog: ModelCatalog) -> bool:
    """Whether the models file now says something else of the models the matrix measured."""
    return fingerprint(catalog, matrix.models) != matrix.fingerprint


async def auto_evidence(
    session: AsyncSession, specs: Sequence[Spec], catalog: ModelCatalog
) -> dict[uuid.UUID, str]:
    """For each spec whose live version is `auto`: `missing` (no finished matrix measured
    it), `stale` (the models file changed for the models it measured) or `current`."""
    live = [(s.id, s.live_version) for s in specs if s.live_version is not None]
    if not live:
        return {}
    rows = await session.execute(
        select(SpecVersion.spec_id, SpecVersion.document).where(
            tuple_(SpecVersion.spec_id, SpecVersion.version).in_(live)
        )
    )
    found: dict[uuid.UUID, str] = {}
    for spec_id, document in rows:
        model = document.get("model")
        if not isinstance(model, dict) or model.get("name") != AUTO_MODEL:
            continue
        matrix = await latest_finished(session, spec_id, document)
        found[spec_id] = (
            "missing" if matrix is None else "stale" if is_stale(matrix, catalog) else "current"
        )
    return found


async def check_auto(
    session: AsyncSession, *, spec: Spec, version: SpecVersion, force: bool
) -> str | None:
    """Refuse (409) to publish an `auto` version no finished matrix measured, unless forced
    (the reason is required by the test gate). Returns a note for the audit trail."""
    document = SpecDocument.model_validate(version.document)
    if document.model is None or not document.model.auto:
        return None
    if await latest_finished(session, spec.id, version.document) is not None:
        return "auto: model matrix finished"
    if force:
        return "auto: forced without a model matrix (the default model serves it)"
    raise ModelMatrixMissing(
        f"version {version.version} of {spec.name!r} uses model 'auto' but no model matrix "
        "of it has finished: run one (POST .../model-matrix), or publish with force and a "
        "reason (the default model then serves it)",
        extra={"version": version.version},
    )
