"""LISTEN on a Postgres channel for as long as the process runs, through reconnects.

The in-memory views that other processes' commits invalidate (live agents, the response
cache's key index) each hold one such listener; what a view does when it connects, hears
a notification or loses the connection is its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import structlog

log = structlog.get_logger(__name__)


async def listen_forever(
    conninfo: str,
    channel: str,
    *,
    what: str,
    on_notice: Callable[[str], None],
    on_connected: Callable[[], None],
    on_lost: Callable[[], None],
) -> None:
    """Hand every payload on `channel` to `on_notice`, until cancelled.

    `on_connected` runs once the LISTEN is in place (so nothing committed after it is
    missed), `on_lost` when the connection goes; reconnects back off from 0.1 s to 5 s.
    """
    delay = 0.1
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(f"LISTEN {channel}")
                delay = 0.1
                on_connected()
                async for notice in conn.notifies():
                    on_notice(notice.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database went away: the view says how it copes
            log.warning(f"{what} lost its connection", error=str(exc), retry_in_s=delay)
        on_lost()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)
