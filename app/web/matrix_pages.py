"""An agent's Models tab: a version's model matrix as a table and a cost-vs-pass-rate
chart, Run to measure the models again, and Use to save a version served by `auto` (the
matrix's choice) or by one model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from app.compiler.document import AUTO_MODEL
from app.core.database import SessionDep
from app.core.errors import ProblemError
from app.core.offload import off_loop
from app.evaluation import matrix as matrices
from app.evaluation.matrix_runner import launch_matrix, open_matrix
from app.evaluation.matrix_schemas import MatrixRead, MatrixRequest
from app.evaluation.runner import EvaluatorDep, start_suite
from app.models import Spec
from app.registry import actions, service
from app.registry.routes import LimitsDep
from app.serving.context import Runtime
from app.web.charts import cost_pass_chart
from app.web.deps import CsrfDep, UserDep, page, redirect, render

router = APIRouter(prefix="/ui", include_in_schema=False)

VersionField = Annotated[int, Form(ge=1)]


async def _page(
    request: Request,
    session: SessionDep,
    spec: Spec,
    version: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    runtime: Runtime = request.app.state.runtime
    catalog = runtime.services.catalog
    found = await matrices.list_matrices(session, spec, version)
    matrix: MatrixRead | None = None
    if found:
        matrix = await matrices.read_matrix(session, found[0], catalog)
    return render(
        request,
        "ui/matrix.html",
        {
            "spec": spec,
            "agent_tabs": "models",
            "version": version,
            "matrix": matrix,
            "aliases": catalog.aliases(),
            "chart": _chart(matrix),
            "error": error,
        },
        status_code=status_code,
    )


def _chart(matrix: MatrixRead | None) -> Any:
    if matrix is None or matrix.status != "finished":
        return None
    points = [(r.model, r.cost_usd_per_call, r.pass_rate) for r in matrix.rows]
    return cost_pass_chart(points, recommended=matrix.recommended)


@router.get("/agents/{name}/models", dependencies=[page("viewer")])
async def models_tab(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    version: int | None = None,
) -> Response:
    """A version's latest model matrix (default: the latest version)."""
    spec = await service.get_spec(session, name)
    return await _page(request, session, spec, version or spec.latest_version)


@router.post("/agents/{name}/models/run", dependencies=[CsrfDep, page("author")])
async def run_matrix(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
    version: VersionField,
) -> Response:
    """Start a matrix of the version on every configured model, as the API does."""
    spec = await service.get_spec(session, name)
    form = await request.form()
    models = [str(m) for m in form.getlist("models")] or None
    try:
        matrix, _ = await open_matrix(
            session,
            spec=spec,
            number=version,
            body=MatrixRequest(models=models),
            evaluator=evaluator,
        )
    except ProblemError as exc:
        await session.rollback()
        spec = await service.get_spec(session, name)
        return await _page(
            request, session, spec, version, error=exc.detail, status_code=exc.status
        )
    background.add_task(launch_matrix, evaluator, matrix.id)
    return redirect(request, f"/ui/agents/{name}/models?version={version}")


@router.post("/agents/{name}/models/use", dependencies=[CsrfDep, page("author")])
async def use_model(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    bounds: LimitsDep,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
    version: VersionField,
    model: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    """Save a new version of the measured version's document with `model` (`auto`: the
    matrix's choice); its tests start as for any saved version."""
    spec = await service.get_spec(session, name)
    measured = await service.get_version(session, spec, version)
    raw = dict(measured.document)
    raw["model"] = {**(raw.get("model") or {}), "name": model}
    document = await off_loop(service.validate_document, raw, bounds, prefix="")
    what = "auto (the model matrix's choice)" if model == AUTO_MODEL else model
    saved = await actions.create_version(
        session,
        spec=spec,
        document=document,
        base_version=spec.latest_version,
        message=f"model: {what}, from the model matrix of version {version}",
        principal=user,
    )
    await start_suite(
        session, spec=spec, version=saved.version, evaluator=evaluator, background=background
    )
    return redirect(request, f"/ui/agents/{name}/versions")
