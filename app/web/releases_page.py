"""An agent's Releases tab: labels, a rollout with its figures per arm and Promote/Abort,
a shadow with its per-field agreement and the calls where the two versions differ."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from app.core.database import SessionDep
from app.core.errors import ProblemError
from app.models import Spec
from app.registry import labels, rollouts, service, shadows
from app.releases.canary_routes import shadow_read
from app.releases.gates import rollout_checked, who
from app.releases.schemas import LabelSet, RolloutCreate, ShadowCreate
from app.web.deps import CsrfDep, UserDep, page, redirect, render

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=2000)]
Action = Callable[[Spec], Awaitable[object]]


async def _page(
    request: Request,
    session: SessionDep,
    name: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    spec = await service.get_spec(session, name)
    rollout_list = await rollouts.list_rollouts(session, spec)
    rollout = rollout_list[0] if rollout_list else None
    shadow_list = await shadows.list_shadows(session, spec)
    shadow = await shadow_read(session, spec, shadow_list[0]) if shadow_list else None
    return render(
        request,
        "ui/releases.html",
        {
            "spec": spec,
            "agent_tabs": "releases",
            "labels": await labels.list_labels(session, spec),
            "versions": [v.version for v in reversed(await service.list_versions(session, spec))],
            "rollout": rollout,
            "arms": await rollouts.arm_figures(session, rollout) if rollout else None,
            "shadow": shadow,
            "error": error,
        },
        status_code=status_code,
    )


async def _act(request: Request, session: SessionDep, name: str, action: Action) -> Response:
    """Run a change; on a refusal re-render the tab with it, else back to the tab."""
    try:
        await action(await service.get_spec(session, name))
    except ProblemError as exc:
        await session.rollback()
        return await _page(request, session, name, error=exc.detail, status_code=exc.status)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return await _page(request, session, name, error=details, status_code=422)
    return redirect(request, f"/ui/agents/{name}/releases")


@router.get("/ui/agents/{name}/releases", dependencies=[page("viewer")])
async def releases_page(
    request: Request, name: str, user: UserDep, session: SessionDep
) -> Response:
    """Labels, the latest rollout and the latest shadow of an agent."""
    return await _page(request, session, name)


@router.post("/ui/agents/{name}/labels", dependencies=[CsrfDep, page("author")])
async def set_label(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    label: Annotated[str, Form(max_length=63)],
    version: Annotated[str, Form(max_length=12)],
    reason: Text = "",
) -> Response:
    """Point a label at a version."""

    async def action(spec: Spec) -> object:
        body = LabelSet.model_validate(
            {"version": version, "reason": reason.strip() or None}, strict=False
        )
        return await labels.set_label(
            session, spec=spec, label=labels.checked_label(label, "/label"),
            version=body.version, who=who(user),
            reason=body.reason,
        )  # fmt: skip

    return await _act(request, session, name, action)


@router.post("/ui/agents/{name}/labels/{label}/remove", dependencies=[CsrfDep, page("author")])
async def remove_label(
    request: Request, name: str, label: str, user: UserDep, session: SessionDep
) -> Response:
    """Remove a label."""

    async def action(spec: Spec) -> object:
        await labels.remove_label(session, spec=spec, label=label, who=who(user), reason=None)
        return None

    return await _act(request, session, name, action)


@router.post("/ui/agents/{name}/rollouts", dependencies=[CsrfDep, page("publisher")])
async def start_rollout(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    version: Annotated[str, Form(max_length=12)],
    percent: Annotated[str, Form(max_length=12)],
    max_failure_rate: Annotated[str, Form(max_length=12)],
    min_calls: Annotated[str, Form(max_length=12)],
    reason: Text = "",
    force: Annotated[bool, Form()] = False,
) -> Response:
    """Start a guarded rollout (publish's gates apply)."""

    async def action(spec: Spec) -> object:
        body = RolloutCreate.model_validate(
            {
                "version": version,
                "percent": percent,
                "guard": {"max_failure_rate": max_failure_rate, "min_calls": min_calls},
                "reason": reason.strip() or None,
                "force": force,
            },
            strict=False,  # form fields are text
        )
        return await rollout_checked(session, name=spec.name, body=body, principal=user)

    return await _act(request, session, name, action)


@router.post(
    "/ui/agents/{name}/rollouts/{rollout_id}/{verb}", dependencies=[CsrfDep, page("publisher")]
)
async def end_rollout(
    request: Request,
    name: str,
    rollout_id: uuid.UUID,
    verb: str,
    user: UserDep,
    session: SessionDep,
) -> Response:
    """Promote (a publish) or abort the rollout."""
    end = {"promote": rollouts.promote, "abort": rollouts.abort}.get(verb)

    async def action(spec: Spec) -> object:
        if end is None:
            raise rollouts.RolloutNotFound(f"a rollout can be promoted or aborted, not {verb!r}")
        rollout = await rollouts.get_rollout(session, spec, rollout_id)
        return await end(session, spec=spec, rollout=rollout, who=who(user), reason=None)

    return await _act(request, session, name, action)


@router.post("/ui/agents/{name}/shadows", dependencies=[CsrfDep, page("publisher")])
async def start_shadow(
    request: Request,
    name: str,
    user: UserDep,
    session: SessionDep,
    version: Annotated[str, Form(max_length=12)],
    sample: Annotated[str, Form(max_length=12)],
) -> Response:
    """Run a version beside live on a sampled share of calls."""

    async def action(spec: Spec) -> object:
        body = ShadowCreate.model_validate({"version": version, "sample": sample}, strict=False)
        return await shadows.start_shadow(
            session, spec=spec, version=body.version, sample=body.sample, who=who(user)
        )

    return await _act(request, session, name, action)


@router.post(
    "/ui/agents/{name}/shadows/{shadow_id}/stop", dependencies=[CsrfDep, page("publisher")]
)
async def stop_shadow(
    request: Request, name: str, shadow_id: uuid.UUID, user: UserDep, session: SessionDep
) -> Response:
    """Stop the shadow."""

    async def action(spec: Spec) -> object:
        shadow = await shadows.get_shadow(session, spec, shadow_id)
        return await shadows.stop_shadow(session, spec=spec, shadow=shadow, who=who(user))

    return await _act(request, session, name, action)
