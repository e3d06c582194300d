"""The task queue: procrastinate on the same Postgres, and deferring inside our transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import procrastinate
from procrastinate.jobs import Job as QueuedTask
from procrastinate.manager import JobManager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import driver_connection

QUEUE = "specloom"
RUN_ITEM = "specloom.run_item"
DELIVER_WEBHOOK = "specloom.deliver_webhook"

# Deferring through a caller's connection needs no pool: this manager never opens one.
_DEFERRER = JobManager(procrastinate.PsycopgConnector())


def queue_app(conninfo: str) -> procrastinate.App:
    """A procrastinate app on the database at `conninfo` (a libpq URI)."""
    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))


async def defer(session: AsyncSession, task_name: str, kwargs_list: list[dict[str, Any]]) -> None:
    """Queue one task per kwargs in `session`'s transaction: they exist iff it commits.

    So a job's rows and its queued tasks can never disagree (no job without its tasks after
    a crash between two commits).
    """
    if not kwargs_list:
        return
    tasks = [
        QueuedTask(
            id=None,
            queue=QUEUE,
            lock=None,
            queueing_lock=None,
            task_name=task_name,
            task_kwargs=kwargs,
        )
        for kwargs in kwargs_list
    ]
    await _DEFERRER.batch_defer_jobs_async(tasks, connection=await driver_connection(session))


_WITHDRAW = text(
    "SELECT procrastinate_cancel_job_v1(id, false, true) FROM procrastinate_jobs"
    " WHERE status = 'todo' AND task_name = :task AND args->>'item_id' = ANY(:ids)"
)


async def withdraw_items(session: AsyncSession, item_ids: list[str]) -> None:
    """Take the tasks of these items out of the queue (those not fetched by a worker yet)."""
    if item_ids:
        await session.execute(_WITHDRAW, {"task": RUN_ITEM, "ids": item_ids})


_LAST_HEARTBEAT = text("SELECT max(last_heartbeat) FROM procrastinate_workers")


async def last_worker_heartbeat(session: AsyncSession) -> datetime | None:
    """When a worker (`specloom worker`, or `serve`'s own) last said it was alive; None
    when none is registered (procrastinate forgets workers silent for a lease)."""
    seen: datetime | None = await session.scalar(_LAST_HEARTBEAT)
    return seen
