"""The OpenAPI documents: the whole API with one typed operation per live agent, and a
standalone document per agent for client generators.

Both are rebuilt lazily after a publish or rollback (the live-agents cache tells us), so
`/openapi.json` is current in every process without a restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from app.core.errors import PROBLEM_JSON, Problem
from app.files.openapi import multipart_media, without_files
from app.security.auth import PUBLIC
from app.security.roles import declare_plain, describe, requirement_of
from app.serving.live import AgentVersion, LiveAgents

router = APIRouter(include_in_schema=False, dependencies=[PUBLIC])

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"

PUBLIC_PATHS = ("/healthz", "/readyz")

_ERRORS = {
    "400": "The body is not valid JSON",
    "401": "Missing or invalid API key",
    "403": "The key may not call this agent",
    "413": "The body, or a file in it, is too large",
    "415": "The body is not application/json (or multipart/form-data for file fields)",
    "404": "Unknown agent, or no live version",
    "422": "The input does not match the agent's input schema",
    "429": "Rate limited or over budget",
    "502": "The models gave no valid output (or none that passed the agent's checks)",
    "503": "No model available",
    "504": "Deadline exceeded",
}
_HEADERS = {
    "X-Specloom-Execution-Id": ("The execution's id (GET /v1/executions/{id})", "string"),
    "X-Specloom-Version": ("The spec version that answered", "integer"),
    "X-Specloom-Model": ("The model that produced the output", "string"),
    "X-Specloom-Model-Choice": (
        "Why that model: `auto` when the version's model matrix chose it",
        "string",
    ),
    "X-Specloom-Cache": ("hit or miss", "string"),
    "X-Specloom-Cost-Usd": ("What the call cost, in USD", "string"),
    "X-Specloom-Check-Warnings": (
        "The agent's checks with severity warn that the output failed, comma separated",
        "string",
    ),
}


def pascal(name: str) -> str:
    """`ticket-triage` → `TicketTriage`."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", name) if part)


def snake(name: str) -> str:
    return name.replace("-", "_")


class OpenApiCache:
    """The static part of the document once per process; the agents part until a change."""

    def __init__(self) -> None:
        self.base: dict[str, Any] | None = None
        self.full: dict[str, Any] | None = None
        self.generation = 0

    def clear(self) -> None:
        self.generation += 1
        self.full = None


def install(app: FastAPI, live: LiveAgents) -> None:
    """Give `app` its document cache, dropped whenever a live pointer moves."""
    cache = OpenApiCache()
    app.state.openapi_cache = cache
    live.on_change(cache.clear)
    if not any(getattr(r, "path", None) == "/static" for r in app.routes):
        static = StaticFiles(directory=STATIC)
        declare_plain(static, "public")  # the web app's CSS and scripts, Swagger UI's too
        app.mount("/static", static, name="static")


def _base(app: FastAPI) -> dict[str, Any]:
    cache: OpenApiCache = app.state.openapi_cache
    if cache.base is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(problem_components())
        # FastAPI documents its own 422 body; ours is problem+json, like every other error.
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                if "422" in operation.get("responses", {}):
                    operation["responses"]["422"] = {
                        "description": "Invalid input",
                        "content": {
                            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    }
        _add_security(document)
        _add_body_errors(document)
        _add_roles(document, app)
        cache.base = document
    return cache.base


# What the body-limit middleware (app/core/limits.py) answers before any route runs.
_BODY_ERRORS = {
    "400": "The body is not valid JSON",
    "413": "The body is too large",
    "415": "The body is not application/json",
    "422": "Invalid input",
}


def _add_body_errors(document: dict[str, Any]) -> None:
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            errors = dict(_BODY_ERRORS) if "requestBody" in operation else {}
            if any(p.get("in") == "query" for p in operation.get("parameters", ())):
                errors["400"] = "A query parameter is malformed (a bad cursor, a NUL byte)"
            for code, text in errors.items():
                operation["responses"].setdefault(code, {"description": text, "content": problem})


def route_contexts(app: FastAPI) -> list[Any]:
    """Every route of `app` as served: an included router's routes with its prefix and its
    dependencies (FastAPI keeps included routers as branches), plain routes and mounts."""
    found: list[Any] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if contexts is not None else [route]:
            # A plain route added to a router is kept whole beside its (empty) context.
            found.append(getattr(context, "starlette_route", None) or context)
    return found


def _add_roles(document: dict[str, Any], app: FastAPI) -> None:
    """`x-required-role` and a line in the description of every operation, from the one
    declaration each route makes (app/security/roles.py)."""
    paths = document.get("paths", {})
    for route in route_contexts(app):
        need = requirement_of(route)
        operations = paths.get(getattr(route, "path_format", None), {})
        for method in getattr(route, "methods", None) or ():
            operation = operations.get(method.lower())
            if operation is None or need is None:
                continue
            operation["x-required-role"] = need
            text = operation.get("description", "").rstrip()
            operation["description"] = f"{text}\n\n{describe(need)}".lstrip()


def problem_components() -> dict[str, Any]:
    """The Problem schema and the schemas it refers to, as OpenAPI components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = schema.pop("$defs", {})
    return {"Problem": schema, **nested}


def _add_security(document: dict[str, Any]) -> None:
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "A Specloom API key"}
    }
    document["security"] = [{"bearer": []}]
    for path in PUBLIC_PATHS:  # these answer without a key: say so, per operation
        for operation in document.get("paths", {}).get(path, {}).values():
            operation["security"] = []


def agent_components(agent: AgentVersion) -> dict[str, Any]:
    """The agent's input and output schemas as named components (with their $defs hoisted)."""
    prefix = pascal(agent.name)
    components: dict[str, Any] = {}
    for suffix, schema in (
        ("Input", agent.compiled.input_schema),
        ("Output", agent.compiled.output_schema),
    ):
        name = prefix + suffix
        components.update(_hoist(name, schema))
    fields = without_files(agent.compiled.input_schema)  # the multipart `input` part
    if fields is not None:
        components.update(_hoist(prefix + "InputFields", fields))
    return components


def _hoist(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    defs = {**schema.get("$defs", {}), **schema.get("definitions", {})}
    mapping = {f"#/$defs/{k}": f"#/components/schemas/{name}_{k}" for k in defs}
    mapping.update({f"#/definitions/{k}": f"#/components/schemas/{name}_{k}" for k in defs})
    mapping["#"] = f"#/components/schemas/{name}"
    body = {k: v for k, v in schema.items() if k not in ("$defs", "definitions", "$schema", "$id")}
    out = {name: _rewrite(body, mapping)}
    for key, sub in defs.items():
        out[f"{name}_{key}"] = _rewrite(sub, mapping)
    return out


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: mapping.get(v, v) if k == "$ref" and isinstance(v, str) else _rewrite(v, mapping)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def agent_operation(agent: AgentVersion) -> dict[str, Any]:
    """The `POST /v1/agents/{name}` operation of one agent, typed by its schemas."""
    prefix = pascal(agent.name)
    document = agent.document
    example = document.examples[0].input if document.examples else None
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{prefix}Input"}}
    if example is not None:
        media["example"] = example
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses: dict[str, Any] = {
        "200": {
            "description": f"The {document.title} output, valid against its schema",
            "headers": {
                header: {"description": text, "schema": {"type": kind}}
                for header, (text, kind) in _HEADERS.items()
            },
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{prefix}Output"}}
            },
        }
    }
    responses.update(
        {code: {"description": text, "content": problem} for code, text in _ERRORS.items()}
    )
    # Rules stay out of the document: callers see the contract, not how the agent is steered.
    return {
        "tags": ["agents"],
        "operationId": f"invoke_{snake(agent.name)}",
        "summary": document.title,
        "description": f"{document.description or document.title}\n\n{describe('invoke')}",
        "x-required-role": "invoke",
        "parameters": [
            {
                "name": "version",
                "in": "query",
                "required": False,
                "description": "Pin a spec version (default: the live one)",
                "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            }
        ],
        "requestBody": {"required": True, "content": _request_content(agent, media)},
        "responses": responses,
        "x-specloom-version": agent.version,
    }


def _request_content(agent: AgentVersion, media: dict[str, Any]) -> dict[str, Any]:
    content = {"application/json": media}
    upload = multipart_media(  # file fields may also come as multipart parts
        agent.compiled.input_schema, f"#/components/schemas/{pascal(agent.name)}InputFields"
    )
    if upload is not None:
        content["multipart/form-data"] = upload
    return content


def _with_agents(base: dict[str, Any], agents: list[AgentVersion]) -> dict[str, Any]:
    document = {**base, "paths": dict(base.get("paths", {}))}
    schemas = dict(base["components"]["schemas"])
    document["components"] = {**base["components"], "schemas": schemas}
    for agent in agents:
        document["paths"][f"/v1/agents/{agent.name}"] = {"post": agent_operation(agent)}
        schemas.update(agent_components(agent))
    return document


def standalone_document(agent: AgentVersion, server_url: str) -> dict[str, Any]:
    """A self-contained OpenAPI document with just this agent's operation."""
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": agent.document.title,
            "version": str(agent.version),
            "description": agent.document.description,
        },
        "servers": [{"url": server_url}],
        "paths": {f"/v1/agents/{agent.name}": {"post": agent_operation(agent)}},
        "components": {
            "schemas": {
                **problem_components(),
                **agent_components(agent),
            }
        },
    }
    _add_security(document)
    return document


@router.get("/openapi.json")
async def openapi_document(request: Request) -> JSONResponse:
    """The whole API, with one typed operation per live agent."""
    app: FastAPI = request.app
    cache: OpenApiCache = app.state.openapi_cache
    document = cache.full
    if document is None:
        live: LiveAgents = app.state.runtime.live
        generation = cache.generation
        document = _with_agents(_base(app), await live.all_live())
        if generation == cache.generation:  # nothing moved while we were reading
            cache.full = document
    return JSONResponse(document)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    """Interactive API docs (Swagger UI, served from this server)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Specloom API",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
    )
