"""Test runs as the API shows them, the publish gate and the comparison of two runs.

Services take the session first, flush when they need ids, and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, InvalidInput, Issue, NotFound
from app.evaluation.schemas import (
    AssertionRate,
    Attempt,
    CaseComparison,
    CaseOutcome,
    ComparisonRead,
    Progress,
    RunRead,
)
from app.evaluation.verdict import run_verdict
from app.models import Spec, TestCase, TestResult, TestRun


class RunNotFound(NotFound):
    slug = "test-run-not-found"
    title = "Test run not found"


class TestsNotPassed(Conflict):
    __test__ = False
    slug = "tests-not-passed"
    title = "The version has not passed its tests"


class OfflineEvidence(Conflict):
    slug = "tests-answered-offline"
    title = "The tests were answered by the offline model"


class ForceWithoutReason(InvalidInput):
    slug = "force-without-reason"
    title = "A forced publish needs a reason"


async def get_run(session: AsyncSession, run_id: uuid.UUID) -> TestRun:
    """The run, or 404."""
    run = await session.get(TestRun, run_id)
    if run is None:
        raise RunNotFound(f"no test run {run_id}")
    return run


async def latest_run(session: AsyncSession, spec: Spec, version: int) -> TestRun | None:
    """The most recently started run of a version."""
    return (await latest_runs(session, [(spec.id, version)])).get((spec.id, version))


async def latest_runs(
    session: AsyncSession, versions: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], TestRun]:
    """`latest_run` of several (spec id, version) pairs in one query (for lists of them)."""
    if not versions:
        return {}
    query = (
        select(TestRun)
        .where(tuple_(TestRun.spec_id, TestRun.version).in_(versions))
        # A model matrix's runs measure models, not the version with its own model.
        .where(TestRun.matrix_id.is_(None))
        .order_by(TestRun.spec_id, TestRun.version, TestRun.created_at.desc(), TestRun.id)
        .distinct(TestRun.spec_id, TestRun.version)
    )
    return {(run.spec_id, run.version): run for run in await session.scalars(query)}


async def read_run(session: AsyncSession, run: TestRun) -> RunRead:
    """The run with progress and per-case, per-assertion pass rates."""
    name = await session.scalar(select(Spec.name).where(Spec.id == run.spec_id))
    results = (
        await session.scalars(
            select(TestResult)
            .where(TestResult.run_id == run.id)
            .order_by(TestResult.case_name, TestResult.repeat_index)
        )
    ).all()
    verdict = run_verdict(run.cases, results)
    outcomes = []
    for case, case_verdict in zip(run.cases, verdict.cases, strict=True):
        outcomes.append(
            CaseOutcome(
                name=case_verdict.name,
                case_id=uuid.UUID(case["case_id"]) if case.get("case_id") else None,
                min_pass_rate=case_verdict.min_pass_rate,
                gate=case_verdict.gate,
                pass_rate=case_verdict.pass_rate,
                pass_k=case_verdict.pass_k,
                wilson_lower=case_verdict.wilson_lower,
                passed=case_verdict.passed,
                attempts=case_verdict.attempts,
                assertions=[
                    AssertionRate(assertion=a, pass_rate=rate, evaluated=evaluated)
                    for a, rate, evaluated in case_verdict.assertion_rates
                ],
                runs=[
                    Attempt.model_validate(r) for r in results if r.case_name == case_verdict.name
                ],
            )
        )
    return RunRead(
        id=run.id,
        spec=str(name),
        version=run.version,
        status=run.status,
        passed=run.passed,
        progress=Progress(done=run.done, total=run.total),
        offline=run.offline,
        cost_usd=run.cost_usd,
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        cases=outcomes,
        failing_cases=verdict.failing if run.status in ("passed", "failed", "error") else [],
    )


async def check_publish(
    session: AsyncSession, *, spec: Spec, version: int, force: bool, reason: str | None
) -> str | None:
    """Refuse (409) to publish a version whose latest run did not pass, unless forced with a
    reason (422 without one). Returns a note on how the gate was passed, or None.

    A spec with no test cases and no run of this version has nothing to check: the publish
    is allowed, and the note says so.
    """
    if force:
        if not (reason or "").strip():
            raise ForceWithoutReason(
                "force: true overrides the test gate and needs a non-empty reason",
                issues=[Issue("/reason", "required when force is true")],
            )
        return None
    run = await latest_run(session, spec, version)
    if run is None:
        has_cases = await session.scalar(
            select(TestCase.id).where(TestCase.spec_id == spec.id).limit(1)
        )
        if has_cases is None:
            return "no test cases"
        raise TestsNotPassed(
            f"version {version} of {spec.name!r} has test cases but no test run; "
            "start one or publish with force and a reason",
            extra={"failing_cases": [], "test_run": None},
        )
    if run.status in ("queued", "running"):
        raise TestsNotPassed(
            f"the test run of version {version} is still {run.status}",
            extra={"failing_cases": [], "test_run": str(run.id)},
        )
    if run.offline:
        raise OfflineEvidence(
            f"the latest test run of version {version} of {spec.name!r} was answered by the "
            "offline model: no model is configured, so its answers are placeholders and its "
            "result is no evidence. Connect a model in the models file and run the tests "
            "again, or publish with force and a reason",
            extra={"test_run": str(run.id), "offline": True},
        )
    if run.passed:
        return None
    view = await read_run(session, run)
    raise TestsNotPassed(
        f"version {version} of {spec.name!r} failed its latest test run "
        f"({len(view.failing_cases)} failing case(s))",
        extra={"failing_cases": view.failing_cases, "test_run": str(run.id)},
    )


async def compare(session: AsyncSession, run: TestRun) -> ComparisonRead:
    """The run compared case by case with the live version's latest finished run."""
    spec = await session.get_one(Spec, run.spec_id)
    baseline = None
    if spec.live_version is not None:
        baseline = await latest_run(session, spec, spec.live_version)
    current = await read_run(session, run)
    before = {c.name: c for c in (await read_run(session, baseline)).cases} if baseline else {}
    rows = []
    for case in current.cases:
        old = before.pop(case.name, None)
        rows.append(
            CaseComparison(
                name=case.name,
                change=_change(case, old),
                pass_rate=case.pass_rate,
                baseline_pass_rate=old.pass_rate if old else None,
                passed=case.passed,
                baseline_passed=old.passed if old else None,
            )
        )
    rows += [
        CaseComparison(
            name=old.name,
            change="removed",
            pass_rate=None,
            baseline_pass_rate=old.pass_rate,
            passed=None,
            baseline_passed=old.passed,
        )
        for old in before.values()
    ]
    return ComparisonRead(
        run_id=run.id,
        version=run.version,
        baseline_run_id=baseline.id if baseline else None,
        baseline_version=baseline.version if baseline else None,
        cases=rows,
    )


def _change(case: CaseOutcome, old: CaseOutcome | None) -> Any:
    if old is None:
        return "new"
    if case.passed != old.passed:
        return "improved" if case.passed else "regressed"
    if case.pass_rate > old.pass_rate + 1e-9:
        return "improved"
    if case.pass_rate < old.pass_rate - 1e-9:
        return "regressed"
    return "unchanged"
