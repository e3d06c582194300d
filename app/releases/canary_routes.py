"""Labels, canary rollouts and shadow runs: trying a version on some traffic, or beside
it, before everyone gets it."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from app.core.database import SessionDep
from app.core.errors import InvalidInput, responses
from app.core.schemas import LABEL_PATTERN
from app.evaluation import service as evaluation
from app.models import Rollout, Shadow, Spec
from app.registry import labels, rollouts, service, shadows
from app.registry.routes import NameParam, SpecDep
from app.releases.gates import rollout_checked, who
from app.releases.schemas import (
    ActionBody,
    ArmRead,
    DifferenceRead,
    LabelList,
    LabelRead,
    LabelSet,
    RolloutCreate,
    RolloutList,
    RolloutRead,
    ShadowCreate,
    ShadowList,
    ShadowRead,
)
from app.security.auth import Forbidden, PrincipalDep, RateLimited, Unauthorized, requires

router = APIRouter(
    prefix="/api/specs",
    tags=["releases"],
    responses=responses(Unauthorized, Forbidden, RateLimited, InvalidInput, service.SpecNotFound),
)

LabelParam = Annotated[str, Path(pattern=LABEL_PATTERN, description="The label (a slug).")]


@router.get("/{name}/labels", dependencies=[requires("viewer")])
async def list_labels(spec: SpecDep, session: SessionDep) -> LabelList:
    """The spec's labels, `production` (the live version) first."""
    views = await labels.list_labels(session, spec)
    return LabelList(items=[LabelRead.model_validate(v) for v in views])


@router.put(
    "/{name}/labels/{label}",
    dependencies=[requires("author")],
    responses=responses(service.VersionNotFound, labels.LabelReserved),
)
async def set_label(
    spec: SpecDep, label: LabelParam, body: LabelSet, session: SessionDep, principal: PrincipalDep
) -> LabelRead:
    """Point a label at a version (`production` moves only by publish, rollback, rollouts)."""
    view = await labels.set_label(
        session, spec=spec, label=label, version=body.version, who=who(principal),
        reason=body.reason,
    )  # fmt: skip
    return LabelRead.model_validate(view)


@router.delete(
    "/{name}/labels/{label}",
    dependencies=[requires("author")],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(labels.LabelNotFound, labels.LabelReserved),
)
async def remove_label(
    spec: SpecDep, label: LabelParam, session: SessionDep, principal: PrincipalDep
) -> Response:
    """Remove a label; its callers get 404 from now on."""
    await labels.remove_label(session, spec=spec, label=label, who=who(principal), reason=None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/rollouts",
    dependencies=[requires("publisher")],
    status_code=status.HTTP_201_CREATED,
    responses=responses(
        service.VersionNotFound,
        service.BreakingChange,
        service.RolloutRunning,
        rollouts.NothingToRollOut,
        evaluation.TestsNotPassed,
        evaluation.OfflineEvidence,
        evaluation.ForceWithoutReason,
    ),
)
async def start_rollout(
    name: NameParam,
    body: RolloutCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> RolloutRead:
    """Give a version to `percent` of the agent's subjects, guarded: it passes publish's
    gates first, and rolls itself back when its calls cross a bound of `guard`."""
    rollout = await rollout_checked(session, name=name, body=body, principal=principal)
    response.headers["Location"] = f"/api/specs/{name}/rollouts/{rollout.id}"
    return _rollout_read(rollout, None)


@router.get("/{name}/rollouts", dependencies=[requires("viewer")])
async def list_rollouts(spec: SpecDep, session: SessionDep) -> RolloutList:
    """The spec's rollouts, newest first."""
    items = await rollouts.list_rollouts(session, spec)
    return RolloutList(items=[_rollout_read(r, None) for r in items])


async def rollout_of(spec: SpecDep, rollout_id: uuid.UUID, session: SessionDep) -> Rollout:
    """The spec's rollout named in the path, or 404."""
    return await rollouts.get_rollout(session, spec, rollout_id)


RolloutDep = Annotated[Rollout, Depends(rollout_of)]


@router.get(
    "/{name}/rollouts/{rollout_id}",
    dependencies=[requires("viewer")],
    responses=responses(rollouts.RolloutNotFound),
)
async def get_rollout(rollout: RolloutDep, session: SessionDep) -> RolloutRead:
    """A rollout with each arm's calls, failure rate, check failures, latency and cost."""
    return _rollout_read(rollout, await rollouts.arm_figures(session, rollout))


@router.post(
    "/{name}/rollouts/{rollout_id}/promote",
    dependencies=[requires("publisher")],
    responses=responses(rollouts.RolloutNotFound, rollouts.RolloutEnded),
)
async def promote_rollout(
    spec: SpecDep, rollout: RolloutDep, session: SessionDep, principal: PrincipalDep,
    body: ActionBody | None = None,
) -> RolloutRead:  # fmt: skip
    """Make the candidate live for everyone (a publish) and end the rollout."""
    reason = body.reason if body else None
    await rollouts.promote(session, spec=spec, rollout=rollout, who=who(principal), reason=reason)
    return _rollout_read(rollout, await rollouts.arm_figures(session, rollout))


@router.post(
    "/{name}/rollouts/{rollout_id}/abort",
    dependencies=[requires("publisher")],
    responses=responses(rollouts.RolloutNotFound, rollouts.RolloutEnded),
)
async def abort_rollout(
    spec: SpecDep, rollout: RolloutDep, session: SessionDep, principal: PrincipalDep,
    body: ActionBody | None = None,
) -> RolloutRead:  # fmt: skip
    """End the rollout: every subject gets the live version again."""
    reason = body.reason if body else None
    await rollouts.abort(session, spec=spec, rollout=rollout, who=who(principal), reason=reason)
    return _rollout_read(rollout, await rollouts.arm_figures(session, rollout))


def _rollout_read(rollout: Rollout, arms: rollouts.Arms | None) -> RolloutRead:
    read = RolloutRead.model_validate(rollout)
    if arms is not None:
        read.arms = {
            "live": ArmRead.model_validate(arms.live.as_dict()),
            "candidate": ArmRead.model_validate(arms.candidate.as_dict()),
        }
    return read


@router.post(
    "/{name}/shadows",
    dependencies=[requires("publisher")],
    status_code=status.HTTP_201_CREATED,
    responses=responses(service.VersionNotFound, shadows.ShadowRunning, shadows.NothingToShadow),
)
async def start_shadow(
    spec: SpecDep, body: ShadowCreate, session: SessionDep, principal: PrincipalDep,
    response: Response,
) -> ShadowRead:  # fmt: skip
    """Run a version beside live on a sampled share of calls, after each caller is answered."""
    shadow = await shadows.start_shadow(
        session, spec=spec, version=body.version, sample=body.sample, who=who(principal)
    )
    response.headers["Location"] = f"/api/specs/{spec.name}/shadows/{shadow.id}"
    return ShadowRead.model_validate(shadow)


@router.get("/{name}/shadows", dependencies=[requires("viewer")])
async def list_shadows(spec: SpecDep, session: SessionDep) -> ShadowList:
    """The spec's shadows, newest first (without their figures)."""
    items = await shadows.list_shadows(session, spec)
    return ShadowList(items=[ShadowRead.model_validate(s) for s in items])


async def shadow_of(spec: SpecDep, shadow_id: uuid.UUID, session: SessionDep) -> Shadow:
    """The spec's shadow named in the path, or 404."""
    return await shadows.get_shadow(session, spec, shadow_id)


ShadowDep = Annotated[Shadow, Depends(shadow_of)]


@router.get(
    "/{name}/shadows/{shadow_id}",
    dependencies=[requires("viewer")],
    responses=responses(shadows.ShadowNotFound),
)
async def get_shadow(spec: SpecDep, shadow: ShadowDep, session: SessionDep) -> ShadowRead:
    """A shadow's calls, failures, cost, and its agreement with live per output field."""
    return await shadow_read(session, spec, shadow)


@router.post(
    "/{name}/shadows/{shadow_id}/stop",
    dependencies=[requires("publisher")],
    responses=responses(shadows.ShadowNotFound, shadows.ShadowStopped),
)
async def stop_shadow(
    spec: SpecDep, shadow: ShadowDep, session: SessionDep, principal: PrincipalDep
) -> ShadowRead:
    """Stop running the candidate beside live (its figures stay)."""
    await shadows.stop_shadow(session, spec=spec, shadow=shadow, who=who(principal))
    return await shadow_read(session, spec, shadow)


async def shadow_read(session: SessionDep, spec: Spec, shadow: Shadow) -> ShadowRead:
    """A shadow with its figures."""
    version = await service.get_version(session, spec, shadow.version)
    report = await shadows.shadow_report(session, shadow, version.document)
    read = ShadowRead.model_validate(shadow)
    return read.model_copy(
        update={
            "calls": report.calls,
            "compared": report.compared,
            "agreement": report.agreement,
            "fields": report.fields,
            "candidate_failures": report.candidate_failures,
            "cost_usd": report.cost_usd,
            "check_failures": report.check_failures,
            "differences": [DifferenceRead(**asdict(d)) for d in report.differences],
        }
    )
