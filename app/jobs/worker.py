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

import procrastinate
import structlog
from procrastinate import RetryStrategy
from procrastinate.exceptions import ProcrastinateException
from procrastinate.jobs import DeleteJobCondition

from app.core.clock import SystemClock
from app.core.database import database_url, make_engine, make_sessionmaker, sync_conninfo
from app.core.settings import Settings
from app.jobs import webhooks
from app.jobs.items import run_item
from app.jobs.queue import DELIVER_WEBHOOK, QUEUE, RUN_ITEM, queue_app
from app.providers import openai_http
from app.providers.llm import warm_up
from app.serving.assembly import build_runtime, catalog_for
from app.serving.live import LiveAgents

log = structlog.get_logger(__name__)


async def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Process the queue until SIGTERM/SIGINT (then finish running items and stop)."""
    # A batch waits its turn at a model's rate limit instead of failing over or failing.
    patience = settings.worker_rate_limit_wait_s
    settings = settings.model_copy(
        update={
            "rate_limit_wait_s": patience,
            "call_deadline_s": settings.call_deadline_s + patience,
        }
    )
    url = database_url(settings)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    live = LiveAgents(sessionmaker)
    catalog = catalog_for(settings)
    runtime = build_runtime(settings, sessionmaker, catalog=catalog, live=live, clock=SystemClock())
    await warm_up(catalog)  # before taking items: a cold first call trips attempt timeouts
    secret = webhooks.load_secret(settings)
    queue = queue_app(sync_conninfo(url))

    async def item_task(item_id: str) -> None:
        await run_item(runtime, sessionmaker, uuid.UUID(item_id))

    async def webhook_task(job_id: str) -> None:
        await webhooks.deliver(sessionmaker, uuid.UUID(job_id), settings=settings, secret=secret)

    # An item task fails only when the database does; it is retried, never lost.
    queue.task(name=RUN_ITEM, queue=QUEUE, retry=RetryStrategy(max_attempts=10, wait=1))(item_task)
    queue.task(
        name=DELIVER_WEBHOOK,
        queue=QUEUE,
        retry=RetryStrategy(
            max_attempts=settings.webhook_max_attempts - 1,
            wait=settings.webhook_retry_wait_s,
            exponential_wait=settings.webhook_retry_backoff,
        ),
    )(webhook_task)

    runtime.writer.start()
    runtime.cache.start()
    live.start(sync_conninfo(url))
    lease = settings.worker_lease_s
    try:
        async with queue.open_async():
            sweeper = asyncio.create_task(requeue_stalled(queue, lease), name="requeue-stalled")
            try:
                await queue.run_worker_async(
                    queues=[QUEUE],
                    concurrency=concurrency or settings.worker_concurrency,
                    update_heartbeat_interval=lease / 3,
                    stalled_worker_timeout=lease,
                    fetch_job_polling_interval=settings.worker_poll_interval_s,
                    delete_jobs=DeleteJobCondition.SUCCESSFUL,
                    install_signal_handlers=True,
                )
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
    finally:
        await live.stop()
        await runtime.writer.stop()
        await runtime.cache.stop()
        await engine.dispose()
        await openai_http.close()  # pooled provider connections (issue 10)


async def requeue_stalled(queue: procrastinate.App, lease_s: float) -> None:
    """Every half lease, put the tasks of workers silent for a lease back in the queue."""
    while True:
        await asyncio.sleep(lease_s / 2)
        try:
            stalled = await queue.job_manager.get_stalled_jobs(seconds_since_heartbeat=lease_s)
            for task in stalled:
                try:
                    await queue.job_manager.retry_job(task)
                    log.warning("requeued a stalled task", task=task.task_name, task_id=task.id)
                except ProcrastinateException:
                    pass  # another worker requeued it first
        except Exception as exc:  # the sweeper must outlive a database hiccup
            log.error("looking for stalled tasks failed", error=str(exc))
