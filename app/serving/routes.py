"""The typed agent endpoints: `POST /v1/agents/{name}` and each agent's OpenAPI document."""

from __future__ import annotations

import json
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import Field, TypeAdapter, ValidationError
from starlette.background import BackgroundTask

from app.core import fastjson
from app.core.errors import BadRequest, InvalidInput, Issue, problem_response, responses
from app.core.limits import PARSED_BODY
from app.core.tracing import span
from app.executions.record import Arm
from app.files.intake import Upload
from app.files.multipart import is_multipart, read_multipart
from app.security.auth import (
    Forbidden,
    InvokeDep,
    Principal,
    RateLimited,
    Unauthorized,
    authenticate,
    check_agent,
    check_label,
    require_invoke,
    requires,
)
from app.security.roles import declare_plain
from app.serving.arms import Pick, requested
from app.serving.cache import wants_fresh
from app.serving.call import call
from app.serving.context import Runtime, RuntimeDep
from app.serving.live import AgentNotFound, AgentNotLive, AgentVersion
from app.serving.openapi import standalone_document
from app.serving.shadowing import run_shadow, sampled

router = APIRouter(tags=["agents"], responses=responses(Unauthorized, Forbidden, RateLimited))


DEADLINE_HEADER = "x-specloom-deadline-ms"
LABEL_HEADER = "x-specloom-label"
SUBJECT_HEADER = "x-specloom-subject"


def requested_deadline(request: Request, max_deadline_s: float) -> float | None:
    """The caller's deadline from `X-Specloom-Deadline-Ms`, bounded; None when not given."""
    raw = request.headers.get(DEADLINE_HEADER)
    if raw is None:
        return None
    try:
        millis = float(raw)
    except ValueError:
        millis = -1
    if not 100 <= millis <= max_deadline_s * 1000:
        raise InvalidInput(
            f"X-Specloom-Deadline-Ms must be a number of milliseconds from 100 to "
            f"{int(max_deadline_s * 1000)}",
            issues=[Issue(f"header:{DEADLINE_HEADER}", f"got {raw!r}")],
        )
    return millis / 1000


def _json_body(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None


_VERSION = TypeAdapter(Annotated[int, Field(ge=1, le=2**31 - 1)])


def _requested_version(request: Request) -> int | None:
    """The `version` query parameter, checked as FastAPI checks a declared `Query`."""
    raw = request.query_params.get("version")
    if raw is None:
        return None
    try:
        return _VERSION.validate_python(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", "version", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


async def invoke_agent(request: Request) -> Response:
    """Call an agent: the body is its input, the answer its typed output.

    The hot route: a plain Starlette endpoint, so no dependency injection runs
    per call; it makes the same checks the `InvokeDep` routes make, in the same order.
    """
    principal = await require_invoke(await authenticate(request))
    runtime: Runtime = request.app.state.runtime
    name: str = request.path_params["name"]
    version = _requested_version(request)
    label = requested_label(request)
    check_agent(principal, name)
    check_label(principal, label, pinned=version is not None)
    pick = await _pick(runtime, name, label, version, subject_of(request, principal))
    agent = await runtime.live.get(name, pick.version)
    # Every line logged while answering names the agent and version.
    with (
        structlog.contextvars.bound_contextvars(agent=name, version=agent.version),
        span("POST /v1/agents/{name}", {"specloom.agent": name, "specloom.version": agent.version}),
    ):
        return await _answer(agent, request, runtime, principal, pick)


async def _pick(
    runtime: Runtime, name: str, label: str | None, version: int | None, subject: str
) -> Pick:
    if runtime.releases is None:  # a runtime without releases serves live or pinned only
        return Pick(version, Arm(label=label))
    return await runtime.releases.pick(name, label=label, version=version, subject=subject)


def requested_label(request: Request) -> str | None:
    """The label the caller chose: `?label=`, else the `X-Specloom-Label` header."""
    raw = request.query_params.get("label")
    if raw is not None:
        return requested(raw, "query:label")
    return requested(request.headers.get(LABEL_HEADER), f"header:{LABEL_HEADER}")


def subject_of(request: Request, principal: Principal) -> str:
    """Who a rollout keeps on one version: `X-Specloom-Subject` (a user or tenant id), else
    the calling key."""
    subject = request.headers.get(SUBJECT_HEADER)
    if subject:
        return subject
    return "key:" + principal.actor


router.add_route("/v1/agents/{name}", invoke_agent, methods=["POST"], include_in_schema=False)
declare_plain(invoke_agent, "invoke")  # checked in its body: no dependency injection here


async def _answer(
    agent: AgentVersion, request: Request, runtime: Runtime, principal: Principal, pick: Pick
) -> Response:
    state = request.scope.get("state", {})
    uploads: list[Upload] = []
    payload: Any
    if is_multipart(request):  # file uploads
        settings = request.app.state.settings
        payload, uploads = await read_multipart(
            request,
            max_parts=len(agent.compiled.input_schema.get("properties", {})) + 1,
            max_depth=settings.bodies.max_json_depth,
            max_string_chars=settings.bodies.max_string_chars,
            max_bytes=settings.bodies.max_body_bytes,
        )
    else:
        payload = state[PARSED_BODY] if PARSED_BODY in state else _json_body(await request.body())
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    result = await call(
        runtime.context,
        agent,
        payload,
        source="api",
        api_key_id=principal.key_id,
        request_id=request_id,
        deadline_s=requested_deadline(request, runtime.services.options.max_deadline_s),
        fresh=wants_fresh(request.headers.get("cache-control")),
        uploads=uploads,
        arm=pick.arm,
    )
    record = result.record
    headers = {
        "X-Specloom-Execution-Id": str(record.id),
        "X-Specloom-Version": str(agent.version),
        "X-Specloom-Cache": record.cache,
        "X-Specloom-Cost-Usd": f"{record.cost_usd:.8f}",
    }
    if record.model:
        headers["X-Specloom-Model"] = record.model
    if record.model_choice:
        headers["X-Specloom-Model-Choice"] = record.model_choice
    if record.offline:
        headers["X-Specloom-Offline"] = "true"
    warned = result.check_warnings
    if warned:  # checks with `severity: warn` that the answer failed
        headers["X-Specloom-Check-Warnings"] = ",".join(warned)
    if result.problem is not None:  # nothing to compare a candidate's answer with
        body = result.problem.problem(request_id)
        body["execution_id"] = str(record.id)
        return problem_response(result.problem.status, body, {**headers, **result.problem.headers})
    # The caller has live's answer first; the candidate runs after it is sent. A call with
    # uploaded files is not shadowed: its files were read once, for live.
    shadow = pick.shadow if not uploads and sampled(pick.shadow) else None
    background = (
        BackgroundTask(run_shadow, runtime, agent.name, shadow, payload, record.id)
        if shadow
        else None
    )
    return Response(
        fastjson.dumps(result.output),
        media_type="application/json",
        headers=headers,
        background=background,
    )


@router.get(
    "/v1/agents/{name}/openapi.json",
    responses=responses(AgentNotFound, AgentNotLive),
    dependencies=[requires("invoke")],
)
async def agent_openapi(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    principal: InvokeDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> JSONResponse:
    """A standalone OpenAPI document for one agent, to generate a typed client from."""
    check_agent(principal, name)
    agent = await runtime.live.get(name, version)
    server = str(request.base_url).rstrip("/")
    return JSONResponse(
        standalone_document(agent, server),
        headers={"Content-Disposition": f'attachment; filename="{name}.openapi.json"'},
    )
