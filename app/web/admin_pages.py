"""The audit trail, API keys (a new key's secret is shown once, on the response page) and
the models: what each deployment is, its breaker, and what its server said of itself."""

from __future__ import annotations

import uuid
from typing import Annotated, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.core.database import SessionDep
from app.security import actions, audit, keys
from app.security.routes import KeyCreate
from app.serving.context import RuntimeDep
from app.serving.ops_routes import check_models, list_models
from app.web.deps import CsrfDep, UserDep, page, redirect, render

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/audit", dependencies=[page("admin")])
async def audit_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target: Annotated[str | None, Query(max_length=300)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """Every management action, newest first."""
    rows, next_cursor = await audit.list_events(
        session, action=action or None, target=target or None, limit=50, cursor=cursor or None
    )
    return render(
        request,
        "ui/audit.html",
        {
            "rows": rows,
            "next_cursor": next_cursor,
            "action": action or "",
            "target": target or "",
            "actions": get_args(audit.Action),
        },
    )


@router.get("/models", dependencies=[page("viewer")])
async def models_page(request: Request, user: UserDep, runtime: RuntimeDep) -> Response:
    """Every deployment: its model and server, breaker, limits, measured speed, and what
    its server said about itself (context window, schema-constrained decoding)."""
    return render(request, "ui/models.html", {"models": await list_models(runtime)})


@router.post("/models/check", dependencies=[CsrfDep, page("admin")])
async def check_models_now(request: Request, user: UserDep, runtime: RuntimeDep) -> Response:
    """Ask the local servers again, then show the models."""
    await check_models(runtime)
    return redirect(request, "/ui/models")


async def _keys_page(
    request: Request,
    session: SessionDep,
    *,
    created: keys.CreatedKey | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "ui/keys.html",
        {
            "keys": await keys.list_keys(session),
            "created": created,
            "errors": errors or {},
            "form": form or {"name": "", "scope": "invoke", "agents": "", "rpm": ""},
        },
        status_code=status_code,
        # The secret is on this page once: no cache may keep a copy.
        headers={"Cache-Control": "no-store"},
    )


@router.get("/keys", dependencies=[page("admin")])
async def keys_page(request: Request, user: UserDep, session: SessionDep) -> Response:
    """Every key (prefix only), a form to create one, revoke buttons."""
    return await _keys_page(request, session)


@router.post("/keys", dependencies=[CsrfDep, page("admin")])
async def create_key(
    request: Request,
    user: UserDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    scope: Annotated[str, Form(max_length=20)] = "invoke",
    agents: Annotated[str, Form(max_length=20_000)] = "",
    rpm: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Create a key and show its secret this once."""
    form = {"name": name, "scope": scope, "agents": agents, "rpm": rpm}
    agent_list = [a.strip() for a in agents.replace("\n", ",").split(",") if a.strip()]
    try:
        body = KeyCreate.model_validate(
            {
                "name": name.strip(),
                "scopes": [scope],
                "agents": agent_list or None,
                "rpm": rpm.strip() or None,
            },
            strict=False,  # form fields are text
        )
    except ValidationError as exc:
        errors = {str(e["loc"][0]): e["msg"] for e in exc.errors() if e["loc"]}
        return await _keys_page(request, session, errors=errors, form=form, status_code=422)
    created = await actions.create_key(
        session,
        name=body.name,
        scopes=body.scopes,
        agents=body.agents,
        rpm=body.rpm,
        principal=user,
    )
    return await _keys_page(request, session, created=created)


@router.post("/keys/{key_id}/revoke", dependencies=[CsrfDep, page("admin")])
async def revoke_key(
    request: Request, key_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """Revoke a key (at once in this process)."""
    await actions.revoke_key(session, key_id, store=request.app.state.keys, principal=user)
    return redirect(request, "/ui/keys")
