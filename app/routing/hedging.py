"""One candidate's turn, with a hedge: when a model is slower than its own recent p95, the
next candidate of the tier is asked in parallel, the first valid answer wins and the other
call is cancelled (and recorded as such).

Off unless `hedge` is set (the server's setting, or a spec's `model.hedge`), and then at
most `hedge_max_extra` of the calls are hedged. A model is hedged only once it has answered
`hedge_min_samples` times: its p95 must be known.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from app.executions.record import AttemptKind, AttemptRecord, ExecutionRecord
from app.providers.catalog import Deployment
from app.routing.ask import Ask, DeploymentRun
from app.routing.deployment import run_deployment
from app.routing.pace import leash_for
from app.routing.services import CallServices, deployment_key, endpoint_key


@dataclass(slots=True)
class CandidateTurn:
    """How a candidate's turn (and its hedge, if any) ended."""

    run: DeploymentRun
    deployment: Deployment
    used: int  # candidates of the tier this turn consumed: 2 when hedged
    answered: bool  # some model of the turn answered, though not validly


async def run_candidate(
    ask: Ask,
    tier: Sequence[Deployment],
    index: int,
    record: ExecutionRecord,
    *,
    services: CallServices,
    kind: AttemptKind,
) -> CandidateTurn:
    """Run `tier[index]`'s turn, hedged with `tier[index + 1]` when it is slow."""
    deployment = tier[index]
    delay = _hedge_delay(ask, services, tier, index)
    if delay is None:  # the common path: no task, no timer
        run = await _turn(ask, tier, index, record, services, kind)
        return CandidateTurn(run, deployment, 1, run.answered_unusably)
    return await _race(ask, tier, index, record, services, kind, delay)


def _hedge_delay(
    ask: Ask, services: CallServices, tier: Sequence[Deployment], index: int
) -> float | None:
    options = services.options
    hedge = options.hedge if ask.hedge is None else ask.hedge
    if not hedge or services.hedges is None or index + 1 >= len(tier):
        return None
    return services.pace.p95_s(deployment_key(tier[index]), options.hedge_min_samples)


def _turn(
    ask: Ask,
    tier: Sequence[Deployment],
    index: int,
    record: ExecutionRecord,
    services: CallServices,
    kind: AttemptKind,
) -> Coroutine[Any, Any, DeploymentRun]:
    deployment, now = tier[index], services.clock.monotonic()
    # Only other models wait behind this one: an alias of the same model is skipped.
    here = endpoint_key(deployment)
    after = len({endpoint_key(d) for d in tier[index + 1 :]} - {here})
    leash = leash_for(
        services.options,
        services.pace,
        deployment_key(deployment),
        # No base: the deployment's own timeout (scaled by its measured speed) is decided
        # when it is asked; the leash only caps it at a fair share of the time left.
        base_s=math.inf,
        remaining_s=ask.deadline - now,
        after=after,
        now=now,
    )
    return run_deployment(ask, deployment, record, services=services, first_kind=kind, leash=leash)


@dataclass(slots=True)
class _Runner:
    deployment: Deployment
    kind: AttemptKind
    started: float


async def _race(
    ask: Ask,
    tier: Sequence[Deployment],
    index: int,
    record: ExecutionRecord,
    services: CallServices,
    kind: AttemptKind,
    delay: float,
) -> CandidateTurn:
    clock = services.clock
    first = asyncio.create_task(_turn(ask, tier, index, record, services, kind))
    runners: dict[asyncio.Task[DeploymentRun], _Runner] = {
        first: _Runner(tier[index], kind, clock.monotonic())
    }
    try:
        done, _ = await asyncio.wait([first], timeout=delay)
        if not done and services.hedges is not None and services.hedges.spend():
            second = asyncio.create_task(_turn(ask, tier, index + 1, record, services, "hedge"))
            runners[second] = _Runner(tier[index + 1], "hedge", clock.monotonic())
        return await _first_valid(runners, record, services)
    finally:
        await _cancel(runners, record, services)


async def _first_valid(
    runners: dict[asyncio.Task[DeploymentRun], _Runner],
    record: ExecutionRecord,
    services: CallServices,
) -> CandidateTurn:
    """The first run with a valid output; else, once all ended, the last to end."""
    pending: set[asyncio.Task[DeploymentRun]] = set(runners)
    answered = False
    while True:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            run = task.result()
            answered = answered or run.answered_unusably
            if run.output is not None or not pending:
                return CandidateTurn(run, runners[task].deployment, len(runners), answered)


async def _cancel(
    runners: dict[asyncio.Task[DeploymentRun], _Runner],
    record: ExecutionRecord,
    services: CallServices,
) -> None:
    """Cancel the runs still going, and put each on the record as a cancelled attempt."""
    losers = [task for task in runners if not task.done()]
    for task in losers:
        task.cancel()
    await asyncio.gather(*losers, return_exceptions=True)
    now = services.clock.monotonic()
    for task in losers:
        runner = runners[task]
        record.attempts.append(
            AttemptRecord(
                number=len(record.attempts) + 1,
                kind=runner.kind,
                model=runner.deployment.model,
                outcome="cancelled",
                latency_ms=(now - runner.started) * 1000,
                error="a parallel attempt answered first",
            )
        )
