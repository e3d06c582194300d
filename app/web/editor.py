"""The spec editor: a new agent, or a new version of one, from the same form."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from app.core.database import SessionDep
from app.core.offload import off_loop
from app.evaluation.runner import EvaluatorDep, start_suite
from app.models import Spec
from app.registry import actions, service
from app.registry.routes import LimitsDep
from app.releases import guardrails
from app.serving.context import Runtime
from app.web.deps import CsrfDep, UserDep, page, redirect, render
from app.web.fields import ITEM_TYPES, TYPES, FieldRow, Section
from app.web.spec_form import (
    FormErrors,
    SpecForm,
    document_from_form,
    empty_form,
    form_from_document,
    form_from_post,
    place_issues,
    section_from_form,
    section_from_schema,
    section_schema,
)

router = APIRouter(prefix="/ui", include_in_schema=False)


def model_aliases(request: Request) -> list[str]:
    """The model aliases a spec may name: the configured ones (or the default model)."""
    runtime: Runtime = request.app.state.runtime
    return runtime.services.catalog.aliases() or [runtime.services.options.default_model]


def _editor(
    request: Request,
    form: SpecForm,
    *,
    spec: Spec | None,
    errors: FormErrors | None = None,
    conflict: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "ui/editor.html",
        {
            "form": form,
            "spec": spec,
            "agent_tabs": "edit" if spec else None,
            "errors": (errors or FormErrors()).at,
            "conflict": conflict,
            "aliases": model_aliases(request),
            "types": TYPES,
            "item_types": ITEM_TYPES,
            "blank_row": FieldRow(),
        },
        status_code=status_code,
    )


async def _posted(request: Request) -> SpecForm:
    data = await request.form()
    flat = {k: v for k, v in data.items() if isinstance(v, str)}
    rules = [v for v in data.getlist("rule") if isinstance(v, str)]
    fallbacks = [v for v in data.getlist("fallbacks") if isinstance(v, str)]
    return form_from_post(flat, rules, fallbacks)


@router.get("/agents/new", dependencies=[page("author")])
async def new_agent_page(request: Request, user: UserDep) -> Response:
    """The editor, empty: create an agent."""
    return _editor(request, empty_form(), spec=None)


@router.post("/agents/new", dependencies=[CsrfDep, page("author")])
async def create_agent(
    request: Request,
    user: UserDep,
    session: SessionDep,
    bounds: LimitsDep,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
) -> Response:
    """Create the agent and its version 1 from the form."""
    form = await _posted(request)
    errors = FormErrors()
    raw = document_from_form(form, errors)
    if not errors:
        try:
            document = await off_loop(service.validate_document, raw, bounds, prefix="")
            spec, _ = await actions.create_spec(
                session,
                document=document,
                message=form.message or "Initial version",
                principal=user,
            )
        except service.DocumentInvalid as exc:
            place_issues(exc.issues or [], form, errors)
        except service.SpecExists as exc:
            errors.add("name", exc.detail)
    if errors:
        await session.rollback()
        return _editor(request, form, spec=None, errors=errors, status_code=422)
    await start_suite(session, spec=spec, version=1, evaluator=evaluator, background=background)
    return redirect(request, f"/ui/agents/{spec.name}/versions")


@router.get("/agents/{name}/edit", dependencies=[page("author")])
async def edit_page(request: Request, name: str, user: UserDep, session: SessionDep) -> Response:
    """The editor, filled with the latest version."""
    spec = await service.get_spec(session, name)
    latest = await service.get_version(session, spec, spec.latest_version)
    return _editor(request, form_from_document(latest.document, latest.version), spec=spec)


@router.post("/agents/{name}/edit", dependencies=[CsrfDep, page("author")])
async def save_version(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    bounds: LimitsDep,
    evaluator: EvaluatorDep,
    background: BackgroundTasks,
) -> Response:
    """Save the form as a new version on top of the version it was opened from."""
    spec = await service.get_spec(session, name)
    form = await _posted(request)
    form.name = spec.name
    errors = FormErrors()
    raw = document_from_form(form, errors)
    conflict = None
    if not form.message.strip():
        errors.add("message", "say what changed: the message is kept in the version history")
    if not errors:
        try:
            document = await off_loop(service.validate_document, raw, bounds, prefix="")
            await guardrails.check_contract_change(session, spec, document, user)
            version = await actions.create_version(
                session,
                spec=spec,
                document=document,
                base_version=form.base_version,
                message=form.message.strip(),
                principal=user,
            )
        except service.DocumentInvalid as exc:
            place_issues(exc.issues or [], form, errors)
        except guardrails.ContractLocked as exc:
            conflict = f"Not saved: {exc.detail}. Your changes are still in the form below."
        except service.VersionConflict as exc:
            latest = exc.extra.get("latest_version")
            conflict = (
                f"Not saved: someone saved version {latest} after you opened version "
                f"{form.base_version}. Your changes are still in the form below. Compare with "
                f"version {latest}; saving again will build on version {latest}."
            )
            form.base_version = int(latest) if latest is not None else form.base_version
    if errors or conflict:
        await session.rollback()
        spec = await service.get_spec(session, name)
        return _editor(
            request,
            form,
            spec=spec,
            errors=errors,
            conflict=conflict,
            status_code=409 if conflict and not errors else 422,
        )
    await start_suite(
        session, spec=spec, version=version.version, evaluator=evaluator, background=background
    )
    return redirect(request, f"/ui/agents/{spec.name}/versions")


@router.post("/checks-preview", dependencies=[CsrfDep, page("author")])
async def preview_checks(request: Request, user: UserDep, bounds: LimitsDep) -> Response:
    """Validate the form's checks against its schemas and example outputs, live (htmx)."""
    form = await _posted(request)
    errors = FormErrors()
    raw = document_from_form(form, errors)
    if not errors:
        try:
            await off_loop(service.validate_document, raw, bounds, prefix="")
        except service.DocumentInvalid as exc:
            place_issues(exc.issues or [], form, errors)
    # Only what the checks decide: the rest of a half-written form is the save's business.
    problems = [
        (place, message) for place in ("checks", "examples") for message in errors.at.get(place, [])
    ]
    elsewhere = sorted(place for place in errors.at if place not in ("checks", "examples"))
    return render(
        request,
        "ui/_checks_result.html",
        {
            "problems": problems,
            "elsewhere": elsewhere,
            "checks": len(raw.get("checks", [])),
            "examples": len(raw.get("examples", [])),
        },
    )


@router.post("/schema-section", dependencies=[CsrfDep, page("author")])
async def switch_section_tab(
    request: Request,
    user: UserDep,
    section: Annotated[str, Form(pattern="^(input|output)$")],
    to: Annotated[str, Form(pattern="^(fields|json)$")],
) -> Response:
    """Keep a schema's table and raw JSON in sync when the author switches tabs (htmx)."""
    data = await request.form()
    posted = section_from_form({k: v for k, v in data.items() if isinstance(v, str)}, section)
    errors = FormErrors()
    schema: dict[str, Any] = section_schema(posted, section, errors)
    if errors:  # stay on the tab being edited, with its problems shown
        shown = posted
    elif to == "json":
        shown = Section(
            mode="json",
            rows=posted.rows,
            raw=json.dumps(schema, indent=2),
            root_extra=posted.root_extra,
        )
    else:
        shown = section_from_schema(schema)
    return render(
        request,
        "ui/_schema_section.html",
        {
            "name": section,
            "sec": shown,
            "errors": errors.at,
            "types": TYPES,
            "item_types": ITEM_TYPES,
            "blank_row": FieldRow(),
        },
    )
