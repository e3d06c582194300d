"""Routing a question through tiers of models: fallbacks within a tier, escalation across.

The first tier is the primary model and its fallbacks: the next deployment is tried when
one is unavailable (breaker open, at its rate limit, failing after retries) or its answer
stayed invalid after the re-asks. Later tiers (stronger models) are entered only when some
model of the tier answered but never validly: an outage alone never moves a call to a
stronger, dearer model. Every deployment gets the same question.

A deployment with others behind it gets at most its fair share of the time left, and a
timeout moves on to the next one rather than waiting on the same model again (see
`pace.leash_for`); a slow one may be hedged (see `hedging`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.executions.record import AttemptKind, ExecutionRecord
from app.providers.catalog import Deployment
from app.routing.ask import Ask, DeploymentRun
from app.routing.deployment import skip_same_deployment
from app.routing.hedging import run_candidate
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
    if services.hedges is not None:
        services.hedges.earn()
    last: DeploymentRun | None = None
    asked: dict[str, str] = {}  # endpoint → the alias it was asked under
    for names in tiers:
        tier = [deployment for name in names for deployment in services.catalog.resolve(name)]
        answered = False
        index = 0
        while index < len(tier):
            # The first attempt of a call asks; later deployments are fallbacks within the
            # first tier and escalations beyond it.
            kind: AttemptKind = (
                "ask" if not record.attempts else "fallback" if index else "escalation"
            )
            endpoint = endpoint_key(tier[index])
            if endpoint in asked:  # the same model again under another name is no fallback
                skip_same_deployment(record, tier[index], asked[endpoint])
                index += 1
                continue
            asked[endpoint] = tier[index].alias
            turn = await run_candidate(ask, tier, index, record, services=services, kind=kind)
            last, index = turn.run, index + turn.used
            if last.output is not None:
                return Routed(last, answered_by=turn.deployment)
            if last.deadline_passed:
                return Routed(last, deadline_passed=True)
            # An invalid or cut-off answer, or an unavailable model: the next model of the
            # tier may do better; a caller should see a slower answer rather than an error.
            answered = answered or turn.answered
        if not answered:
            break  # escalation is for invalid answers only, not for unavailable models
    return Routed(last)
