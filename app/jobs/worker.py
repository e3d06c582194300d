"""`specloom worker`: runs job items and webhook deliveries from the procrastinate queue.

Workers share nothing but Postgres: run any number of them on any machines. Each sends a
heartbeat every third of `SPECLOOM_WORKER_LEASE_S`; a worker silent for longer than the
lease is presumed dead, and the tasks it was running are put back in the queue for the
others (its items' stale results are refused, see app/jobs/items.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

import procrastinate
import structlog
from procrastinate import RetryStrategy
from procrastinate.exceptions import ProcrastinateException
from procrastinate.jobs import DeleteJobCondition
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import SystemClock
from app.core.database import database_url, make_engine, make_sessionmaker, sync_conninfo
from app.core.loops import BackgroundLoop, Backoff
from app.core.setting_groups import JobSettings, WebhookSettings
from app.core.settings import Settings
from app.jobs import webhooks
from app.jobs.items import run_item
from app.jobs.queue import DELIVER_WEBHOOK, QUEUE, RUN_ITEM, queue_app
from app.providers import openai_http
from app.providers.warm_up import warm_up
from app.serving.assembly import build_runtime, catalog_for, start_runtime
from app.serving.context import Runtime
from app.serving.live import LiveAgents

log = structlog.get_logger(__name__)


async def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Process the queue until SIGTERM/SIGINT (then finish running items and stop).

    The parts start in order and stop in reverse: the sweeper and the queue first, then the
    live listener, the writers (which drain), the engine and the provider connections.
    """
    settings = patient(settings)
    url = database_url(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(openai_http.close)  # pooled provider connections
        engine = make_engine(url)
        stack.push_async_callback(engine.dispose)
        sessionmaker = make_sessionmaker(engine)
        live = LiveAgents(sessionmaker)
        catalog = catalog_for(settings)
        runtime = build_runtime(
            settings, sessionmaker, catalog=catalog, live=live, clock=SystemClock()
        )
        await warm_up(catalog)  # before taking items: a cold first call trips attempt timeouts
        secret = webhooks.load_secret(settings)
        queue = queue_app(sync_conninfo(url))
        register_tasks(queue, runtime, sessionmaker, webhook=settings.webhooks, secret=secret)

        start_runtime(runtime, stack, sync_conninfo(url))
        await stack.enter_async_context(queue.open_async())
        jobs = settings.jobs
        await stack.enter_async_context(stalled_sweeper(queue, jobs.lease_s))
        await _run_queue(queue, jobs, concurrency or jobs.concurrency, signals=True)


@asynccontextmanager
async def in_process_worker(
    settings: Settings,
    runtime: Runtime,
    sessionmaker: async_sessionmaker[AsyncSession],
    conninfo: str,
) -> AsyncIterator[None]:
    """`specloom serve`'s own worker, for the block: the queue's items run in the server's
    process, on its runtime, beside any dedicated workers. On exit it stops taking items and
    waits for the running ones (at most `worker_stop_timeout_s`)."""
    queue = queue_app(conninfo)
    secret = webhooks.load_secret(settings)
    register_tasks(queue, runtime, sessionmaker, webhook=settings.webhooks, secret=secret)
    jobs = settings.jobs
    async with queue.open_async(), stalled_sweeper(queue, jobs.lease_s):
        task = asyncio.create_task(
            _run_queue(queue, jobs, jobs.concurrency, signals=False), name="job worker"
        )
        task.add_done_callback(_report_end)
        try:
            yield
        finally:
            task.cancel()  # procrastinate's graceful stop
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the in-process job worker stopped", error=repr(task.exception()))


async def _run_queue(
    queue: procrastinate.App, jobs: JobSettings, concurrency: int, *, signals: bool
) -> None:
    await queue.run_worker_async(
        queues=[QUEUE],
        concurrency=concurrency,
        update_heartbeat_interval=jobs.lease_s / 3,
        stalled_worker_timeout=jobs.lease_s,
        fetch_job_polling_interval=jobs.poll_interval_s,
        delete_jobs=DeleteJobCondition.SUCCESSFUL,
        shutdown_graceful_timeout=jobs.stop_timeout_s,
        install_signal_handlers=signals,
    )


def patient(settings: Settings) -> Settings:
    """A worker's settings: a batch waits its turn at a model's rate limit instead of
    failing over or failing, and its calls' deadline leaves room for that wait."""
    calls = settings.calls
    patience = settings.jobs.rate_limit_wait_s
    waiting = calls.model_copy(
        update={"rate_limit_wait_s": patience, "deadline_s": calls.deadline_s + patience}
    )
    return settings.model_copy(update={"calls": waiting})


def register_tasks(
    queue: procrastinate.App,
    runtime: Runtime,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    webhook: WebhookSettings,
    secret: str,
) -> None:
    """The queue's two tasks: run a job item, deliver a job's webhook."""

    async def item_task(item_id: str) -> None:
        await run_item(runtime, sessionmaker, uuid.UUID(item_id))

    async def webhook_task(job_id: str) -> None:
        await webhooks.deliver(sessionmaker, uuid.UUID(job_id), config=webhook, secret=secret)

    # An item task fails only when the database does; it is retried, never lost.
    queue.task(name=RUN_ITEM, queue=QUEUE, retry=RetryStrategy(max_attempts=10, wait=1))(item_task)
    queue.task(
        name=DELIVER_WEBHOOK,
        queue=QUEUE,
        retry=RetryStrategy(
            max_attempts=webhook.max_attempts - 1,
            wait=webhook.retry_wait_s,
            exponential_wait=webhook.retry_backoff,
        ),
    )(webhook_task)


def stalled_sweeper(queue: procrastinate.App, lease_s: float) -> BackgroundLoop:
    """A loop (not started) that every half lease puts the tasks of workers silent for a
    lease back in the queue; it outlives a database hiccup."""
    half = lease_s / 2
    return BackgroundLoop(
        partial(requeue_stalled, queue, lease_s),
        name="requeue-stalled",
        interval_s=half,
        backoff=Backoff(first_s=half, cap_s=half),
        message="looking for stalled tasks failed",
        level="error",
    )


async def requeue_stalled(queue: procrastinate.App, lease_s: float) -> None:
    """Put the tasks of workers silent for `lease_s` back in the queue."""
    stalled = await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=lease_s)
    for task in stalled:
        try:
            await queue.job_manager.retry_job(task)
            log.warning("requeued a stalled task", task=task.task_name, task_id=task.id)
        except ProcrastinateException:
            pass  # another worker requeued it first
