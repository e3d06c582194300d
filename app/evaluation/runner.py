"""Running a version's suite: every case x its repeats, through the real call pipeline.

Each attempt is an independent call of the pinned version through `execute` (routing,
fallbacks, repair, re-asks) and never the response cache: a repeat served from the cache
would measure nothing. Attempts run under a semaphore; each one's result is committed as it
lands, so a reader sees progress while the run goes on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import BackgroundTasks, Depends, Request
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import ChecksFailed
from app.core.setting_groups import EvaluationSettings
from app.evaluation.attempt_checks import attempt_passed, check_result
from app.evaluation.cases import list_cases
from app.evaluation.judge import grade
from app.evaluation.verdict import run_verdict
from app.executions.record import CHECK_FAILED, Source
from app.models import Spec, TestCase, TestResult, TestRun
from app.observability.metrics import observe_test_attempt, observe_test_run
from app.serving.call import call, suite_width
from app.serving.context import CallContext
from app.serving.live import LiveAgents, on_model
from app.serving.result import CallResult

log = structlog.get_logger(__name__)


async def queue_run(
    session: AsyncSession, *, spec: Spec, version: int, repeat: int | None = None
) -> TestRun:
    """A queued run of `version` over the spec's current cases (snapshotted now), each run
    `repeat` times when given, else as often as the case says."""
    cases = (
        await session.scalars(
            select(TestCase).where(TestCase.spec_id == spec.id).order_by(TestCase.name)
        )
    ).all()
    run = TestRun(
        spec_id=spec.id,
        version=version,
        status="queued",
        total=sum(repeat or c.repeat for c in cases),
        cases=[
            {
                "case_id": str(c.id),
                "name": c.name,
                "input": c.input,
                "expect": c.expect,
                "repeat": repeat or c.repeat,
                "min_pass_rate": c.min_pass_rate,
                "gate": c.gate,
            }
            for c in cases
        ],
    )
    session.add(run)
    await session.flush()
    await session.refresh(run)
    return run


def check_failures(result: CallResult) -> int:
    """How often the call's answers broke the spec's checks: its attempts that did, or one
    for the call when it failed on them and no attempt says so."""
    attempts = sum(1 for a in result.record.attempts if a.outcome == CHECK_FAILED)
    failed = isinstance(result.problem, ChecksFailed)
    return attempts or int(failed)


class Evaluator:
    """Runs test runs as background tasks owned by the app, at most `config.concurrency` calls at
    a time per run."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        live: LiveAgents,
        calls: CallContext,
        config: EvaluationSettings,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._judge_model = config.judge_model
        self._live = live
        self._calls = calls
        self._concurrency = config.concurrency
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    @property
    def calls(self) -> CallContext:
        """What its calls use (the catalog, budgets, the writer)."""
        return self._calls

    @property
    def live(self) -> LiveAgents:
        return self._live

    def start(self, run_id: uuid.UUID) -> asyncio.Task[None]:
        """Run `run_id` (already committed) in the background."""
        return self.spawn(self.run(run_id), name=f"test-run-{run_id}")

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run `work` in the background, owned (and stopped) with the test runs."""
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def launch(self, run_id: uuid.UUID) -> None:
        """`start` as an async background task of a response (so it runs on the loop)."""
        self.start(run_id)

    async def stop(self) -> None:
        """Cancel the runs still going and wait for them (they are marked as errors)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def run(self, run_id: uuid.UUID) -> None:
        """Execute the run to its end and record the verdict."""
        bound = log.bind(test_run_id=str(run_id))
        try:
            await self._run(run_id)
        except asyncio.CancelledError:
            await self._finish_error(run_id, "the server stopped before the run finished")
            raise
        except Exception as exc:  # a run must end in a state, whatever went wrong
            bound.exception("test run failed")
            await self._finish_error(run_id, f"{type(exc).__name__}: {exc}"[:2000])

    async def _run(self, run_id: uuid.UUID) -> None:
        async with self._sessionmaker() as session:
            run = await session.get_one(TestRun, run_id)
            name = await session.scalar(select(Spec.name).where(Spec.id == run.spec_id))
            run.status = "running"
            run.started_at = datetime.now(UTC)
            version, cases, model = run.version, list(run.cases), run.model
            source: Source = "test" if run.matrix_id is None else "matrix"
            await session.commit()
        agent = await self._live.get(str(name), version)
        if model is not None:
            agent = on_model(agent, model)
        semaphore = asyncio.Semaphore(suite_width(agent, self._calls.services, self._concurrency))

        async def attempt(case: dict[str, Any], index: int) -> None:
            async with semaphore:
                row = await self._attempt(agent, run_id, case, index, source)
            observe_test_attempt(str(name), passed=row.passed)
            async with self._sessionmaker() as session:
                session.add(row)
                await session.execute(
                    update(TestRun)
                    .where(TestRun.id == run_id)
                    .values(
                        done=TestRun.done + 1,
                        cost_usd=TestRun.cost_usd + row.cost_usd,
                        offline=TestRun.offline | row.offline,
                    )
                )
                await session.commit()

        async with asyncio.TaskGroup() as group:
            for case in cases:
                for index in range(int(case["repeat"])):
                    group.create_task(attempt(case, index))
        async with self._sessionmaker() as session:
            run = await session.get_one(TestRun, run_id)
            results = (
                await session.scalars(select(TestResult).where(TestResult.run_id == run_id))
            ).all()
            verdict = run_verdict(cases, results)
            run.passed = verdict.passed
            run.status = "passed" if verdict.passed else "failed"
            run.finished_at = datetime.now(UTC)
            await session.commit()
        observe_test_run(
            str(name),
            outcome=run.status,
            seconds=_seconds(run),
            pass_rates=[c.pass_rate for c in verdict.cases],
        )

    async def _attempt(
        self, agent: Any, run_id: uuid.UUID, case: dict[str, Any], index: int, source: Source
    ) -> TestResult:
        result = await call(
            self._calls, agent, case["input"], source=source, request_id=f"test-run-{run_id}"
        )
        checks = await grade(
            check_result(result, case["expect"], agent.compiled.check_names),
            result.output,
            model=self._judge_model,
            calls=self._calls,
        )
        return TestResult(
            run_id=run_id,
            case_id=uuid.UUID(case["case_id"]) if case.get("case_id") else None,
            case_name=case["name"],
            repeat_index=index,
            execution_id=result.record.id,
            output=result.output,
            error=result.problem.problem() if result.problem is not None else None,
            assertions=checks,
            passed=attempt_passed(checks),
            latency_ms=result.record.latency_ms,
            cost_usd=result.record.cost_usd,
            offline=result.record.offline,
            reasks=sum(1 for a in result.record.attempts if a.kind == "reask"),
            check_failures=check_failures(result),
        )

    async def _finish_error(self, run_id: uuid.UUID, message: str) -> None:
        async with self._sessionmaker() as session:
            await session.execute(
                update(TestRun)
                .where(TestRun.id == run_id)
                .values(status="error", passed=False, error=message, finished_at=datetime.now(UTC))
            )
            run = await session.get_one(TestRun, run_id)
            name = await session.scalar(select(Spec.name).where(Spec.id == run.spec_id))
            await session.commit()
        observe_test_run(str(name), outcome="error", seconds=None)


def _seconds(run: TestRun) -> float | None:
    if run.started_at is None or run.finished_at is None:
        return None
    return (run.finished_at - run.started_at).total_seconds()


async def get_evaluator(request: Request) -> Evaluator:
    """The app's test-run executor."""
    evaluator: Evaluator = request.app.state.evaluator
    return evaluator


EvaluatorDep = Annotated[Evaluator, Depends(get_evaluator)]


async def start_suite(
    session: AsyncSession,
    *,
    spec: Spec,
    version: int,
    evaluator: Evaluator,
    background: BackgroundTasks,
    always: bool = False,
) -> TestRun | None:
    """Queue a run of `version` (only when the spec has cases, unless `always`); it starts
    after the request commits, as a background task owned by the app."""
    if not always and not await list_cases(session, spec):
        return None
    run = await queue_run(session, spec=spec, version=version)
    background.add_task(evaluator.launch, run.id)
    return run
