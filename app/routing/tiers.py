"""Routing a question through tiers of models: fallbacks within a tier, escalation across.

The first tier is the primary model and its fallbacks: the next deployment is tried when
one is unavailable (breaker open, at its rate limit, failing after retries) or its answer
stayed invalid after the re-asks. Later tiers (stronger models) are entered only when some
model of the tier answered but never validly: an outage alone never moves a call to a
stronger, dearer model. Every deployment gets the same question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.executions.record import AttemptKind, ExecutionRecord
from app.providers.catalog import Deployment
from app.routing.ask import Ask, DeploymentRun
from app.routing.deployment import run_deployment, skip_same_deployment
from app.routing.services import CallServices, endpoint_key


@dataclass(slots=True)
class Routed:
    """How routing ended: the last turn, and the deployment that answered validly if any."""

    last: DeploymentRun | None
    answered_by: Deployment | None = None
    deadline_passed: bool = False


async def route(
    ask: Ask,
    tiers: Sequence[Sequence[str]],
    record: ExecutionRecord,
    *,
    services: CallServices,
) -> Routed:
    """Ask the tiers' deployments in order until one answers validly (see the module doc).

    `tiers` holds model names (aliases or model strings); a tier's deployments are looked up
    in the catalog only when routing reaches it.
    """
    last: DeploymentRun | None = None
    asked: dict[str, str] = {}  # endpoint → the alias it was asked under
    for names in tiers:
        tier = [deployment for name in names for deployment in services.catalog.resolve(name)]
        answered = False
        for index, deployment in enumerate(tier):
            # The first attempt of a call asks; later deployments are fallbacks within the
            # first tier and escalations beyond it.
            kind: AttemptKind = (
                "ask" if not record.attempts else "fallback" if index else "escalation"
            )
            endpoint = endpoint_key(deployment)
            if endpoint in asked:
                skip_same_deployment(record, deployment, asked[endpoint])
                continue
            asked[endpoint] = deployment.alias
            last = await run_deployment(ask, deployment, record, services=services, first_kind=kind)
            if last.output is not None:
                return Routed(last, answered_by=deployment)
            if last.deadline_passed:
                return Routed(last, deadline_passed=True)
            # An invalid or cut-off answer, or an unavailable model: the next model of the
            # tier may do better; a caller should see a slower answer rather than an error.
            answered = answered or last.invalid is not None or last.truncated_at is not None
        if not answered:
            break  # escalation is for invalid answers only, not for unavailable models
    return Routed(last)
