"""LISTEN on a Postgres channel for as long as the process runs, through reconnects.

The in-memory views that other processes' commits invalidate (live agents, the response
cache's key index) each hold one such listener; what a view does when it connects, hears
a notification or loses the connection is its own.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from app.core.loops import BackgroundLoop, Backoff


class ConnectionEnded(Exception):
    """The listening connection closed without an error: it is lost all the same."""


def listener(
    conninfo: str,
    channel: str,
    *,
    what: str,
    on_notice: Callable[[str], None],
    on_connected: Callable[[], None],
    on_lost: Callable[[], None],
) -> BackgroundLoop:
    """A loop (not started) handing every payload on `channel` to `on_notice`.

    `on_connected` runs once the LISTEN is in place (so nothing committed after it is
    missed), `on_lost` when the connection goes; reconnects back off from 0.1 s to 5 s.
    """

    async def listen() -> None:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await conn.execute(f"LISTEN {channel}")
            loop.reset_backoff()
            on_connected()
            async for notice in conn.notifies():
                on_notice(notice.payload)
        raise ConnectionEnded("the connection closed")

    loop = BackgroundLoop(
        listen,
        name=what,
        interval_s=0.0,
        wait_first=False,
        backoff=Backoff(first_s=0.1, cap_s=5.0),
        # The database went away: the view says how it copes.
        message=f"{what} lost its connection",
        on_error=on_lost,
    )
    return loop
