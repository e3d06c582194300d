"""CPU-bound work (compiling a schema, a contract diff) run off the event loop, with a deadline.

The event loop keeps serving other requests while a worker thread does the work; a caller
that waits longer than the deadline gets a 504 instead of waiting on. The thread itself
cannot be interrupted and finishes in the background: what bounds the work is the limits on
schemas (see app/jsonschema/authoring.py), the deadline only bounds the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from app.core.errors import DeadlineExceeded

P = ParamSpec("P")
T = TypeVar("T")

SCHEMA_WORK_DEADLINE_S = 10.0


async def off_loop(
    fn: Callable[P, T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`fn(*args, **kwargs)` in a worker thread; DeadlineExceeded (504) after the deadline."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(fn, *args, **kwargs), timeout=SCHEMA_WORK_DEADLINE_S
        )
    except TimeoutError:
        raise DeadlineExceeded(f"schema work took more than {SCHEMA_WORK_DEADLINE_S:g} s") from None
