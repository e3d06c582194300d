"""Background loops: a step run again and again, off the request path, until stopped.

Every loop of a process (the log and cache writers, the views refreshed ahead, the LISTEN
connections, the workers' sweeper) is a `BackgroundLoop`: it waits `interval_s` (or less,
when woken), runs its step, and goes round again. A step that fails is logged and tried
again after a backoff, so a database hiccup never ends a loop; a step that returns True has
more to do and runs again at once.

Stopping either cancels the loop (`drain=False`: a refresher has nothing worth finishing)
or wakes it for a last step that must succeed (`drain=True`: a writer still holding rows),
giving up after `give_up_after` failures in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

import structlog

log = structlog.get_logger(__name__)

Step = Callable[[], Awaitable[bool | None]]


@dataclass(frozen=True)
class Backoff:
    """The wait after failures in a row: `first_s`, doubling each time, at most `cap_s`."""

    first_s: float = 0.1
    cap_s: float = 5.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (from 1)."""
        # The exponent is bounded: a database down for hours must not overflow the float.
        doublings = min(max(failures - 1, 0), 64)
        return float(min(self.first_s * 2.0**doublings, self.cap_s))


class BackgroundLoop:
    """Runs `step` every `interval_s` in a task of its own, until stopped.

    `run` is the loop itself, for a caller that owns the task; `start` runs it in a new one.
    As an async context manager it runs for the block. A failed step is logged (`message`,
    at `level`), `on_error` is told, and the step is tried again after `backoff`, slept with
    `sleep` (an injected clock's, say).
    """

    def __init__(
        self,
        step: Step,
        *,
        name: str,
        interval_s: float,
        wait_first: bool = True,
        backoff: Backoff | None = None,
        message: str | None = None,
        level: Literal["warning", "error"] = "warning",
        on_error: Callable[[], None] | None = None,
        drain: bool = False,
        give_up_after: int | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.name = name
        self._step = step
        self._interval_s = interval_s
        self._wait_first = wait_first
        self._backoff = backoff or Backoff()
        self._message = message or f"{name} failed"
        self._level = level
        self._on_error = on_error
        self._drain = drain
        self._give_up_after = give_up_after
        self._sleep = sleep
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._failures = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def refreshing(cls, step: Step, *, name: str, stale_after_s: float, message: str) -> Self:
        """A loop keeping a view fresh: its step runs at half the staleness bound, and after a
        failure at that same pace (the request path reads for itself meanwhile)."""
        half = stale_after_s / 2
        backoff = Backoff(first_s=half, cap_s=half)
        return cls(step, name=name, interval_s=half, backoff=backoff, message=message)

    @property
    def running(self) -> bool:
        """Whether the loop's task is under way."""
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Cut the current wait short: the step runs now."""
        self._wakeup.set()

    def reset_backoff(self) -> None:
        """A long-running step (a listener) is healthy again: its next failure waits least."""
        self._failures = 0

    async def run(self) -> None:
        """Run the loop in the calling task until cancelled (or, draining, stopped)."""
        again = not self._wait_first
        while True:
            if not again:
                await self._wait()
            try:
                again = bool(await self._step())
            except Exception as exc:  # the loop must outlive its step's trouble
                if await self._failed(exc):
                    return
                again = True
                continue
            self._failures = 0
            if self._stopping and not again:
                return

    def start(self) -> None:
        """Run the loop in a new task."""
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name=self.name)

    def cancel(self) -> None:
        """Cancel the loop without waiting for it (from a synchronous callback)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def stop(self) -> None:
        """Drain (a last step, see `drain`) or cancel the loop, and wait until it has ended."""
        task, self._task = self._task, None
        if task is None:
            return
        if self._drain:
            self._stopping = True
            self._wakeup.set()
            await task
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the caller is being cancelled too, not just the loop

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _wait(self) -> None:
        # Real time on purpose: an injected manual clock's sleep returns at once and would
        # spin the loop. A step decides with its own clock what is due.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), self._interval_s)
        self._wakeup.clear()

    async def _failed(self, exc: Exception) -> bool:
        """Log a failure and wait out its backoff; True when a draining stop gives up."""
        self._failures += 1
        delay = self._backoff.delay(self._failures)
        report = log.error if self._level == "error" else log.warning
        report(self._message, error=str(exc), failures=self._failures, retry_in_s=delay)
        if self._on_error is not None:
            self._on_error()
        limit = self._give_up_after
        if self._stopping and limit is not None and self._failures >= limit:
            return True
        await self._sleep(delay)
        return False
