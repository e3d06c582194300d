"""Test cases (add, edit, delete), test runs with live progress, and their results."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.compiler.file_fields import file_fields
from app.core.database import SessionDep
from app.core.errors import ProblemError
from app.core.setting_groups import FileLimits
from app.evaluation import actions
from app.evaluation import cases as case_service
from app.evaluation import service as evaluation
from app.evaluation.coverage import rule_coverage
from app.evaluation.promote import draft_from_execution
from app.evaluation.routes import CallsDep
from app.evaluation.runner import EvaluatorDep, start_suite
from app.evaluation.schemas import CaseWrite, PromoteRequest, PromotionDraft, RunRead
from app.executions.redaction import redact
from app.files.errors import FileRejected
from app.models import Spec, TestCase
from app.registry import service
from app.security.store import Principal
from app.serving.context import Runtime
from app.web.deps import CsrfDep, UserDep, page, redirect, render

router = APIRouter(prefix="/ui", include_in_schema=False)


async def _tests_page(
    request: Request,
    session: SessionDep,
    name: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    spec = await service.get_spec(session, name)
    coverage = await rule_coverage(session, name, None)
    cases = await case_service.list_cases(session, spec)
    run = await evaluation.latest_run(session, spec, spec.latest_version)
    schema = await case_service.latest_input_schema(session, spec)
    return render(
        request,
        "ui/tests.html",
        {
            "spec": spec,
            "agent_tabs": "tests",
            "cases": cases,
            "shown_inputs": {case.id: redact(case.input, schema) for case in cases},
            "run": run,
            "uncovered": [r for r in coverage.rules if not r.covered],
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/agents/{name}/tests", dependencies=[page("viewer")])
async def tests_page(request: Request, name: str, user: UserDep, session: SessionDep) -> Response:
    """The cases table (by origin), the latest run, rules no case covers, Run / Generate."""
    return await _tests_page(request, session, name)


@router.post("/agents/{name}/cases/generate", dependencies=[CsrfDep, page("author")])
async def generate(
    request: Request, name: str, user: UserDep, session: SessionDep, calls: CallsDep
) -> Response:
    """Generate cases (origin `generated`) for the latest version, as the API route does."""
    try:
        await actions.generate(session, name, None, calls=calls, principal=user)
    except ProblemError as exc:
        await session.rollback()
        return await _tests_page(request, session, name, error=exc.detail, status_code=exc.status)
    return redirect(request, f"/ui/agents/{name}/tests")


@router.post("/executions/{execution_id}/promote", dependencies=[CsrfDep, page("author")])
async def promote(
    request: Request, execution_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """Review an execution as a draft test case: the case form filled with its input and
    assertions on its output, saved (origin `promoted`) only once the author confirms the
    expected values."""
    runtime: Runtime = request.app.state.runtime
    await runtime.writer.wait_written(execution_id)  # a call made a moment ago
    draft = await draft_from_execution(session, execution_id, PromoteRequest())
    spec = await service.get_spec(session, draft.spec)
    return await _case_page(request, session, spec, _draft_form(draft))


def _draft_form(draft: PromotionDraft) -> dict[str, Any]:
    case = draft.case
    return _case_form(
        name=case["name"],
        input=json.dumps(case["input"], indent=2),
        expect=json.dumps(case["expect"], indent=2),
        execution_id=str(draft.execution_id),
        offline="true" if draft.offline else "",
    )


def _case_form(case: TestCase | None = None, **values: Any) -> dict[str, Any]:
    form = {
        "name": case.name if case else "",
        "input": json.dumps(case.input, indent=2) if case else "{}",
        "expect": json.dumps(case.expect, indent=2) if case else "[]",
        "repeat": str(case.repeat) if case else "1",
        "min_pass_rate": str(case.min_pass_rate) if case else "1.0",
        "gate": case.gate if case else "rate",
        "execution_id": "",  # set on a promotion draft under review
        "confirmed": "",
    }
    form.update(values)
    return form


async def _case_page(
    request: Request,
    session: SessionDep,
    spec: Spec,
    form: dict[str, Any],
    *,
    case_id: uuid.UUID | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    schema = await case_service.latest_input_schema(session, spec)
    pickers = [f for f in file_fields(schema).values() if f.kind == "file"]
    return render(
        request,
        "ui/case.html",
        {
            "spec": spec,
            "agent_tabs": "tests",
            "form": form,
            "file_fields": [(f.name, ",".join(f.accepts)) for f in pickers],
            "case_id": case_id,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/agents/{name}/cases/new", dependencies=[page("author")])
async def new_case_page(
    request: Request, name: str, user: UserDep, session: SessionDep
) -> Response:
    """An empty case."""
    spec = await service.get_spec(session, name)
    return await _case_page(request, session, spec, _case_form())


async def picked_files(request: Request) -> dict[str, str]:
    """The files chosen in the case form's pickers (`file.<field>`), as base64 text: the
    value a file field takes in JSON (the case service stores the bytes once, by hash)."""
    files: dict[str, str] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, UploadFile) and key.startswith("file.") and value.filename:
            files[key.removeprefix("file.")] = base64.b64encode(await value.read()).decode()
    return files


def _read_case(
    form: dict[str, str], errors: dict[str, list[str]], files: dict[str, str] | None = None
) -> CaseWrite | None:
    raw: dict[str, Any] = {"name": form["name"]}
    for field in ("input", "expect"):
        try:
            raw[field] = json.loads(form[field] or ("{}" if field == "input" else "[]"))
        except ValueError as exc:
            errors.setdefault(field, []).append(f"not valid JSON: {exc}")
    if files and isinstance(raw.get("input"), dict):
        raw["input"].update(files)  # a picked file replaces what the JSON held for its field
    raw["repeat"] = form["repeat"]
    raw["min_pass_rate"] = form["min_pass_rate"]
    raw["gate"] = form["gate"] or "rate"
    if form["execution_id"]:
        raw["execution_id"] = form["execution_id"]
        if not form["confirmed"]:
            errors.setdefault("expect", []).append(
                "confirm that you checked every expected value (they are the model's answer)"
            )
    if errors:
        return None
    try:
        return CaseWrite.model_validate(raw, strict=False)  # form fields are text
    except ValidationError as exc:
        for err in exc.errors():
            place = str(err["loc"][0]) if err["loc"] else "name"
            errors.setdefault(place, []).append(
                f"{'/'.join(map(str, err['loc'][1:]))} {err['msg']}".strip()
            )
        return None


def _place_problem(exc: ProblemError, errors: dict[str, list[str]]) -> None:
    if isinstance(exc, case_service.CaseExists):
        errors.setdefault("name", []).append(exc.detail)
        return
    for issue in exc.issues or []:
        pointer = issue.pointer
        if isinstance(exc, FileRejected) and not pointer.startswith("/input/"):
            pointer = "/input" + pointer  # a file's problems point into the case's input
        place = pointer.split("/")[1] if pointer.count("/") >= 1 else "name"
        errors.setdefault(place or "name", []).append(f"{pointer}: {issue.message}")
    if not exc.issues:
        errors.setdefault("input" if isinstance(exc, FileRejected) else "name", []).append(
            exc.detail
        )


CaseFields = dict[str, str]


def posted_case(
    case_name: Annotated[str, Form(alias="name", max_length=300)] = "",
    input: Annotated[str, Form(max_length=200_000)] = "{}",
    expect: Annotated[str, Form(max_length=200_000)] = "[]",
    repeat: Annotated[str, Form(max_length=10)] = "1",
    min_pass_rate: Annotated[str, Form(max_length=10)] = "1.0",
    gate: Annotated[str, Form(max_length=10)] = "rate",
    execution_id: Annotated[str, Form(max_length=40)] = "",
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> CaseFields:
    """Dependency: the case form as posted (text, read by `_read_case`)."""
    return {
        "name": case_name,
        "input": input,
        "expect": expect,
        "repeat": repeat,
        "min_pass_rate": min_pass_rate,
        "gate": gate,
        "execution_id": execution_id,
        "confirmed": confirmed,
    }


CaseFormDep = Annotated[CaseFields, Depends(posted_case)]


async def _save_case(
    request: Request,
    session: SessionDep,
    user: Principal,
    spec: Spec,
    form: CaseFields,
    case: TestCase | None,
) -> Response:
    """Create (`case` None) or update a case from the form; the form again, at fault, on 422."""
    name, case_id = spec.name, case.id if case is not None else None
    errors: dict[str, list[str]] = {}
    body = _read_case(form, errors, await picked_files(request))
    limits: FileLimits = request.app.state.settings.files
    saved = None
    if body is not None:
        try:
            saved = (
                await case_service.create_case(session, spec=spec, body=body, limits=limits)
                if case is None
                else await case_service.update_case(
                    session, spec=spec, case=case, body=body, limits=limits
                )
            )
        except (case_service.CaseInvalid, case_service.CaseExists, FileRejected) as exc:
            _place_problem(exc, errors)
    if errors or saved is None:
        await session.rollback()
        spec = await service.get_spec(session, name)  # the rollback expired it
        return await _case_page(
            request, session, spec, form, case_id=case_id, errors=errors, status_code=422
        )
    await actions.case_changed(session, user, spec, saved, "created" if case is None else "updated")
    return redirect(request, f"/ui/agents/{name}/tests")


@router.post("/agents/{name}/cases/new", dependencies=[CsrfDep, page("author")])
async def create_case(
    request: Request, name: str, user: UserDep, session: SessionDep, form: CaseFormDep
) -> Response:
    """Add a test case."""
    spec = await service.get_spec(session, name)
    return await _save_case(request, session, user, spec, form, None)


@router.get("/agents/{name}/cases/{case_id}", dependencies=[page("viewer")])
async def case_page(
    request: Request, name: str, case_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """Edit one test case."""
    spec = await service.get_spec(session, name)
    case = await case_service.get_case(session, spec, case_id)
    return await _case_page(request, session, spec, _case_form(case), case_id=case.id)


@router.post("/agents/{name}/cases/{case_id}", dependencies=[CsrfDep, page("author")])
async def update_case(
    request: Request,
    name: str,
    case_id: uuid.UUID,
    user: UserDep,
    session: SessionDep,
    form: CaseFormDep,
) -> Response:
    """Save a test case."""
    spec = await service.get_spec(session, name)
    case = await case_service.get_case(session, spec, case_id)
    return await _save_case(request, session, user, spec, form, case)


@router.post("/agents/{name}/cases/{case_id}/delete", dependencies=[CsrfDep, page("author")])
async def delete_case(
    request: Request, name: str, case_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """Delete a test case (past results keep its name)."""
    spec = await service.get_spec(session, name)
    case = await case_service.get_case(session, spec, case_id)
    await actions.case_changed(session, user, spec, case, "deleted")
    await case_service.delete_case(session, case)
    return redirect(request, f"/ui/agents/{name}/tests")


@router.post("/agents/{name}/test-runs", dependencies=[CsrfDep, page("author")])
async def start_run(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """Run the suite against a version (default: the latest)."""
    spec = await service.get_spec(session, name)
    number = version or spec.latest_version
    await service.get_version(session, spec, number)
    run = await start_suite(
        session,
        spec=spec,
        version=number,
        evaluator=evaluator,
        background=background,
        always=True,
    )
    assert run is not None  # always=True queues a run
    return redirect(request, f"/ui/test-runs/{run.id}")


async def _run_context(session: SessionDep, run_id: uuid.UUID) -> dict[str, Any]:
    run = await evaluation.get_run(session, run_id)
    view = await evaluation.read_run(session, run)
    spec = await service.get_spec(session, view.spec)
    version = await service.get_version(session, spec, run.version)
    finished = view.status in ("passed", "failed", "error")
    return {
        "spec": spec,
        "agent_tabs": "tests",
        "view": _redacted(view, version.document),
        "finished": finished,
        "comparison": await evaluation.compare(session, run) if finished else None,
    }


def _redacted(view: RunRead, document: dict[str, Any]) -> RunRead:
    """The run with x-sensitive output values replaced, as every page shows them."""
    schema = document.get("output_schema") or {}
    for case in view.cases:
        for attempt in case.runs:
            if attempt.output is not None:
                attempt.output = redact(attempt.output, schema)
    return view


@router.get("/test-runs/{run_id}", dependencies=[page("viewer")])
async def run_page(
    request: Request, run_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """A test run: live progress while it runs, then results per case and assertion."""
    return render(request, "ui/run.html", await _run_context(session, run_id))


@router.get("/test-runs/{run_id}/progress", dependencies=[page("viewer")])
async def run_progress(
    request: Request, run_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """The run's results block, polled by htmx until the run finishes."""
    return render(request, "ui/_run_results.html", await _run_context(session, run_id))
