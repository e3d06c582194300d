"""A version's suite run in-process, without the server: what `specs push --publish` and
`serve --load-specs` do before moving the live pointer. Nothing is stored but the verdict
decides whether the version may go live."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.evaluation.attempt_checks import attempt_passed, check_result
from app.evaluation.cases import list_cases
from app.evaluation.judge import grade
from app.evaluation.verdict import RunVerdict, run_verdict
from app.models import Spec, SpecVersion
from app.registry.files import SuiteCheck, SuiteOutcome
from app.serving.call import call, suite_width
from app.serving.context import CallContext
from app.serving.live import agent_version


@dataclass(frozen=True)
class InlineAttempt:
    case_name: str
    passed: bool
    assertions: list[Any]
    latency_ms: float = 0.0
    error: str | None = None
    offline: bool = False  # answered by the offline model


async def run_suite_attempts(
    session: AsyncSession,
    *,
    spec: Spec,
    version: SpecVersion,
    calls: CallContext,
    concurrency: int = 4,
    judge_model: str | None = None,
) -> tuple[RunVerdict, list[InlineAttempt]]:
    """Every case of the spec x its repeats against `version`, through the call pipeline:
    the verdict, and every attempt (for reports such as `specloom test`)."""
    cases = await list_cases(session, spec)
    agent = agent_version(spec.name, version.version, version.document, version.content_hash)
    semaphore = asyncio.Semaphore(suite_width(agent, calls.services, concurrency))

    async def attempt(name: str, payload: dict[str, Any], expect: list[Any]) -> InlineAttempt:
        async with semaphore:
            result = await call(calls, agent, payload, source="test", request_id="specs-push")
        checks = await grade(
            check_result(result, expect, agent.compiled.check_names),
            result.output,
            model=judge_model,
            calls=calls,
        )
        error = result.problem.detail if result.problem is not None else None
        passed = attempt_passed(checks)
        return InlineAttempt(
            name, passed, checks, result.record.latency_ms, error, result.record.offline
        )

    attempts = await asyncio.gather(
        *(attempt(case.name, case.input, case.expect) for case in cases for _ in range(case.repeat))
    )
    snapshot = [{"name": c.name, "min_pass_rate": c.min_pass_rate, "gate": c.gate} for c in cases]
    return run_verdict(snapshot, attempts), list(attempts)


def suite_check(
    calls: CallContext, *, concurrency: int = 4, judge_model: str | None = None
) -> SuiteCheck:
    """A publish check for `push_document`: run the suite; its failing cases, and whether
    the offline model answered it."""

    async def check(session: AsyncSession, spec: Spec, version: SpecVersion) -> SuiteOutcome:
        verdict, attempts = await run_suite_attempts(
            session,
            spec=spec,
            version=version,
            calls=calls,
            concurrency=concurrency,
            judge_model=judge_model,
        )
        return SuiteOutcome(tuple(verdict.failing), any(a.offline for a in attempts))

    return check
