"""The agents list, and one agent's versions with Publish and Roll back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.core.database import SessionDep
from app.core.errors import ProblemError
from app.evaluation import matrix
from app.evaluation import service as evaluation
from app.executions.series import agent_activity
from app.registry import actions, service
from app.registry.service import BreakingChange
from app.releases import guardrails
from app.releases.gates import decide_request, publish_or_request
from app.security.auth import PUBLIC
from app.serving.context import Runtime
from app.web.approvals import release_panel
from app.web.deps import CsrfDep, UserDep, page, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/", dependencies=[PUBLIC])
async def root() -> Response:
    """The web app lives under /ui."""
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui", dependencies=[page("viewer")])
async def agents_page(request: Request, user: UserDep, session: SessionDep) -> Response:
    """Every agent: live and latest version, latest tests, calls, errors and cost over 24 h."""
    specs = await service.list_specs(session)
    activity = await agent_activity(session, since=datetime.now(UTC) - timedelta(hours=24))
    runs = await evaluation.latest_runs(session, [(s.id, s.latest_version) for s in specs])
    runtime: Runtime = request.app.state.runtime
    auto = await matrix.auto_evidence(session, specs, runtime.services.catalog)
    rows = [
        {
            "spec": spec,
            "run": runs.get((spec.id, spec.latest_version)),
            "activity": activity.get(spec.name),
            "auto": auto.get(spec.id),  # the live version's model is the matrix's choice
        }
        for spec in specs
    ]
    return render(request, "ui/agents.html", {"rows": rows})


@router.get("/ui/agents/{name}", dependencies=[page("viewer")])
async def agent_home(name: str, user: UserDep) -> Response:
    """An agent's page opens on its versions."""
    return RedirectResponse(f"/ui/agents/{name}/versions", status_code=303)


async def _versions_page(
    request: Request,
    session: SessionDep,
    name: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    breaking: list[dict[str, Any]] | None = None,
    posted: dict[str, Any] | None = None,
) -> Response:
    spec = await service.get_spec(session, name)
    versions = list(reversed(await service.list_versions(session, spec)))
    latest = await evaluation.latest_runs(session, [(spec.id, v.version) for v in versions])
    runs = {v.version: latest.get((spec.id, v.version)) for v in versions}
    releases = list(reversed(await service.list_releases(session, spec)))
    stack = service.live_stack(list(reversed(releases)))
    return render(
        request,
        "ui/versions.html",
        {
            "spec": spec,
            "agent_tabs": "versions",
            "versions": versions,
            "runs": runs,
            "releases": releases,
            "previous_live": stack[-2] if len(stack) >= 2 else None,
            # Only versions that were live before can be rolled back to; others go
            # through Publish and its gates.
            "rollback_targets": sorted(
                service.was_live(releases) - {spec.live_version}, reverse=True
            ),
            "error": error,
            "breaking": breaking,
            "posted": posted or {},
            **await release_panel(session, spec),
        },
        status_code=status_code,
    )


@router.get("/ui/agents/{name}/versions", dependencies=[page("viewer")])
async def versions_page(
    request: Request, name: str, user: UserDep, session: SessionDep
) -> Response:
    """Version history with test status and live marker, Publish, Roll back, releases."""
    return await _versions_page(request, session, name)


@router.post("/ui/agents/{name}/publish", dependencies=[CsrfDep, page("publisher")])
async def publish(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    version: Annotated[int, Form(ge=1, le=2**31 - 1)],
    reason: Annotated[str, Form(max_length=2000)] = "",
    force: Annotated[bool, Form()] = False,
    confirm_breaking: Annotated[bool, Form()] = False,
) -> Response:
    """Make a version live (the contract and test gates apply; forcing needs a reason, a
    breaking contract change the checkbox that confirms it)."""
    try:
        await publish_or_request(
            session,
            name=name,
            version=version,
            principal=user,
            reason=reason.strip() or None,
            force=force,
            confirm_breaking=confirm_breaking,
        )
    except ProblemError as exc:
        await session.rollback()
        breaking = exc.extra.get("breaking_changes") if isinstance(exc, BreakingChange) else None
        return await _versions_page(
            request,
            session,
            name,
            error=exc.detail,
            status_code=exc.status,
            breaking=breaking,
            posted={"version": version, "reason": reason, "force": force},
        )
    return redirect(request, f"/ui/agents/{name}/versions")


@router.post(
    "/ui/agents/{name}/release-requests/{request_id}/{decision}",
    dependencies=[CsrfDep, page("publisher")],
)
async def decide(
    request: Request,
    name: str,
    request_id: uuid.UUID,
    decision: Literal["approve", "reject"],
    user: UserDep,
    session: SessionDep,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve (the version goes live, gates checked again) or reject a release request."""
    try:
        await decide_request(
            session,
            name=name,
            request_id=request_id,
            approve=decision == "approve",
            principal=user,
            note=note.strip() or None,
        )
    except ProblemError as exc:
        await session.rollback()
        return await _versions_page(
            request, session, name, error=exc.detail, status_code=exc.status
        )
    return redirect(request, f"/ui/agents/{name}/versions")


@router.post("/ui/agents/{name}/guardrails", dependencies=[CsrfDep, page("admin")])
async def set_guardrails(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    publishers: Annotated[str, Form(max_length=20_000)] = "",
    require_approval: Annotated[bool, Form()] = False,
    rules_only: Annotated[bool, Form()] = False,
) -> Response:
    """Set who may publish, whether publishes need approval, and rules-only mode."""
    spec = await service.get_spec(session, name)
    listed = [p.strip() for p in publishers.replace("\n", ",").split(",") if p.strip()]
    await guardrails.set_guardrails(
        session,
        spec,
        publishers=listed or None,
        require_approval=require_approval,
        rules_only=rules_only,
        principal=user,
    )
    return redirect(request, f"/ui/agents/{name}/versions")


@router.post("/ui/agents/{name}/rollback", dependencies=[CsrfDep, page("publisher")])
async def rollback(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Move the live pointer back (to the chosen version, default the previous live one)."""
    reason_text = reason.strip() or None
    try:
        await actions.rollback(
            session, name=name, version=version, reason=reason_text, principal=user
        )
    except ProblemError as exc:
        await session.rollback()
        return await _versions_page(
            request, session, name, error=exc.detail, status_code=exc.status
        )
    return redirect(request, f"/ui/agents/{name}/versions")
