"""The playground: call any version of an agent from a form generated from its input schema."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from app.compiler.file_fields import file_fields
from app.core.database import SessionDep
from app.core.errors import ProblemError
from app.executions.redaction import redact
from app.files.intake import Upload
from app.registry import service
from app.serving.call import call
from app.serving.context import Runtime
from app.serving.result import CallResult
from app.web.deps import CsrfDep, UserDep, page, render

router = APIRouter(prefix="/ui", include_in_schema=False)


@dataclass
class Typed:
    """What the author typed, shown again with the result or the errors."""

    values: dict[str, str] = field(default_factory=dict)
    raw_json: str = ""
    mode: str = "form"


@dataclass
class InputField:
    """One property of the input schema as a form control."""

    name: str
    kind: str  # text, textarea, integer, number, boolean, enum, json, file
    required: bool
    description: str
    options: list[str]
    value: str
    sensitive: bool = False
    accept: str = ""  # a file field's media types, for the file picker


def input_fields(schema: dict[str, Any], values: dict[str, str]) -> list[InputField]:
    """Form controls for the top-level properties of an input schema."""
    listed = [n for n in schema.get("required") or [] if isinstance(n, str)]
    required = set(listed)
    properties = schema.get("properties") or {}
    # Stored schemas do not keep key order: required fields first, as `required` lists them.
    ordered = [n for n in listed if n in properties] + [n for n in properties if n not in required]
    files = {n: f for n, f in file_fields(schema).items() if f.kind == "file"}
    fields = []
    for name in ordered:
        prop = properties[name]
        prop = prop if isinstance(prop, dict) else {}
        kind = {"integer": "integer", "number": "number", "boolean": "boolean"}.get(
            prop.get("type", ""), "json" if prop.get("type") in ("array", "object") else "text"
        )
        options = [str(v) for v in prop.get("enum", [])]
        if options and all(isinstance(v, str) for v in prop["enum"]):
            kind = "enum"
        if kind == "text" and (prop.get("maxLength") or 1000) > 200:
            kind = "textarea"
        if kind == "text" and "type" not in prop and "enum" not in prop:
            kind = "json"
        if name in files:
            kind = "file"
        fields.append(
            InputField(
                name=name,
                kind=kind,
                required=name in required,
                description=str(prop.get("description", "")),
                options=options,
                value=values.get(name, ""),
                sensitive=prop.get("x-sensitive") is True,
                accept=",".join(files[name].accepts) if name in files else "",
            )
        )
    return fields


def input_from_fields(
    fields: list[InputField], form: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The input object the controls describe, and problems by field name."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for control in fields:
        raw = form.get(f"in.{control.name}", "")
        if control.kind == "file":  # the bytes travel as an upload (see `picked_files`)
            continue
        if control.kind == "boolean":
            payload[control.name] = raw == "true"
            continue
        if raw == "" and not control.required:
            continue
        try:
            if control.kind == "integer":
                payload[control.name] = int(raw)
            elif control.kind == "number":
                payload[control.name] = float(raw)
            elif control.kind == "json":
                payload[control.name] = json.loads(raw)
            else:
                payload[control.name] = raw
        except ValueError:
            errors[control.name] = f"not a valid {control.kind}: {raw!r}"
    return payload, errors


async def picked_files(data: FormData) -> list[Upload]:
    """The files chosen in the form's file pickers (`in.<field>`), as a multipart call's."""
    uploads = []
    for key, value in data.multi_items():
        if isinstance(value, UploadFile) and key.startswith("in.") and value.filename:
            uploads.append(
                Upload(
                    key.removeprefix("in."), await value.read(), value.content_type, value.filename
                )
            )
    return uploads


async def _page(
    request: Request,
    session: SessionDep,
    name: str,
    version: int | None,
    *,
    typed: Typed | None = None,
    errors: dict[str, str] | None = None,
    result: CallResult | None = None,
    messages: list[dict[str, Any]] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    typed = typed or Typed()
    spec = await service.get_spec(session, name)
    number = version or spec.live_version or spec.latest_version
    document = (await service.get_version(session, spec, number)).document
    raw_json = typed.raw_json
    schema = document.get("input_schema") or {}
    if not raw_json:
        examples = document.get("examples") or []
        raw_json = json.dumps(examples[0]["input"] if examples else {}, indent=2)
    return render(
        request,
        "ui/playground.html",
        {
            "spec": spec,
            "agent_tabs": "playground",
            "version": number,
            "fields": input_fields(schema, typed.values),
            "raw_json": raw_json,
            "mode": typed.mode,
            "errors": errors or {},
            "result": result,
            "messages": messages,
            "problem": problem,
        },
        status_code=status_code,
    )


@router.get("/agents/{name}/playground", dependencies=[page("viewer")])
async def playground_page(
    request: Request, name: str, user: UserDep, session: SessionDep, version: int | None = None
) -> Response:
    """The input form of a version (default: the live one, else the latest)."""
    return await _page(request, session, name, version)


@router.post("/agents/{name}/playground", dependencies=[CsrfDep, page("author")])
async def run_playground(
    request: Request, name: str, user: UserDep, session: SessionDep
) -> Response:
    """Call the chosen version with the form's input; show output, prompt and attempts."""
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = None
    mode = "json" if form.get("input_mode") == "json" else "form"
    values = {k.removeprefix("in."): v for k, v in form.items() if k.startswith("in.")}
    raw_json = form.get("input_json", "")
    again = Typed(values=values, raw_json=raw_json, mode=mode)
    spec = await service.get_spec(session, name)
    number = version or spec.live_version or spec.latest_version
    runtime: Runtime = request.app.state.runtime
    try:
        agent = await runtime.live.get(name, number)
    except ProblemError as exc:
        return await _page(
            request, session, name, version, typed=again, problem=exc.detail, status_code=exc.status
        )
    errors: dict[str, str] = {}
    payload: Any
    if mode == "json":
        try:
            payload = json.loads(raw_json or "{}")
        except ValueError as exc:
            errors["input_json"] = f"not valid JSON: {exc}"
    else:
        payload, errors = input_from_fields(input_fields(agent.compiled.input_schema, {}), form)
    if errors:
        return await _page(
            request, session, name, number, typed=again, errors=errors, status_code=422
        )
    try:
        result = await call(
            runtime.context,
            agent,
            payload,
            source="playground",
            api_key_id=user.key_id,
            request_id=getattr(request.state, "request_id", None),
            fresh=form.get("fresh") == "true",
            uploads=await picked_files(data) if mode == "form" else [],
        )
    except ProblemError as exc:  # a file the field does not take, too large, unreadable...
        issues = "; ".join(f"{i.pointer}: {i.message}" for i in exc.issues or [])
        return await _page(
            request,
            session,
            name,
            number,
            typed=again,
            problem=f"{exc.status} {exc.title}: {exc.detail}" + (f" ({issues})" if issues else ""),
            status_code=exc.status,
        )
    shown_input = redact(payload, agent.compiled.input_schema) if isinstance(payload, dict) else {}
    messages = agent.compiled.messages(shown_input) if isinstance(payload, dict) else None
    problem = None
    if result.problem is not None:
        issues = "; ".join(f"{i.pointer}: {i.message}" for i in result.problem.issues or [])
        problem = f"{result.problem.status} {result.problem.title}: {result.problem.detail}" + (
            f" ({issues})" if issues else ""
        )
    return await _page(
        request,
        session,
        name,
        number,
        typed=again,
        result=result,
        messages=messages,
        problem=problem,
    )
