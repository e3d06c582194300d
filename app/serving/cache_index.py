"""Which keys the shared response cache may hold, so that a miss need not ask Postgres.

A call whose input is new misses the in-process LRU and used to look in the
`response_cache` table: a round trip on every such call, most of them for nothing. This
index holds the first 16 hex digits (64 bits) of every key the table holds: loaded at start,
kept current by the NOTIFY that every process's flush sends in the same transaction as its
rows, and rebuilt now and then so that expired keys leave it. When a key's prefix is absent,
no process has stored the key and the lookup is skipped.

The index only ever says "maybe" wrongly, never "no": until it is loaded, after its
listening connection drops, or when the table holds more keys than it may keep in memory,
it is not `complete` and every miss asks Postgres as before. A notification it could miss
is one it was not listening for, and then it is not complete either. A million keys take
about 90 MB; beyond `max_keys` the index gives up and every miss asks Postgres.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import LiteralString

import psycopg
import structlog

from app.core.listen import listener
from app.core.loops import BackgroundLoop, Backoff

log = structlog.get_logger(__name__)

CHANNEL = "specloom_cache_keys"
_PREFIX = 16  # hex digits kept per key: 64 bits, a false "maybe" once in 2**64 per key
# NOTIFY payloads must stay under 8000 bytes: 16 digits and a comma each.
NOTIFY_KEYS = 400

# Expired rows too (the purge removes them soon): their "maybe" costs one lookup, and the
# index need not agree with the cache's clock on what has expired.
_KEYS: LiteralString = "SELECT left(key, 16) FROM response_cache"


def short(key: str) -> str:
    """The part of a key the index keeps."""
    return key[:_PREFIX]


def payloads(keys: Iterable[str]) -> list[str]:
    """NOTIFY payloads announcing `keys` (each under the 8000-byte limit)."""
    prefixes = [short(key) for key in keys]
    return [",".join(prefixes[i : i + NOTIFY_KEYS]) for i in range(0, len(prefixes), NOTIFY_KEYS)]


class KeyIndex:
    """Key prefixes of the shared cache table, kept by LISTEN/NOTIFY."""

    def __init__(
        self, conninfo: str, *, max_keys: int = 1_000_000, rebuild_s: float = 3600.0
    ) -> None:
        self._conninfo = conninfo
        self._max_keys = max_keys
        self._rebuild_s = rebuild_s
        self._keys: set[str] = set()
        self._loading: set[str] | None = None  # the set a rebuild fills, notified keys too
        self._complete = False
        self._listener: BackgroundLoop | None = None
        self._rebuilder: BackgroundLoop | None = None
        self.rebuilds = 0  # loads finished, complete or over size (for tests and metrics)

    @property
    def complete(self) -> bool:
        """Whether an absent prefix means the table has no such key."""
        return self._complete

    def may_hold(self, key: str) -> bool:
        """False only when the table certainly has no entry for `key`."""
        return not self._complete or short(key) in self._keys

    def add(self, key: str) -> None:
        """A key this process stores (its own NOTIFY would bring it a moment later)."""
        self._add([short(key)])

    def _add(self, values: list[str]) -> None:
        self._keys.update(values)
        if self._loading is not None:
            self._loading.update(values)

    def start(self) -> None:
        """Listen for stored keys, and load every key once listening."""
        self._listener = listener(
            self._conninfo,
            CHANNEL,
            what="cache index",
            on_notice=lambda payload: self._add(payload.split(",")) if payload else None,
            # Listening from here on, so no key stored during a load is missed.
            on_connected=self._start_rebuilding,
            on_lost=self._stop_rebuilding,  # a notification may be missed: ask on every miss
        )
        self._listener.start()

    async def stop(self) -> None:
        """Stop listening and loading."""
        self._stop_rebuilding()
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None

    def _start_rebuilding(self) -> None:
        self._stop_rebuilding()
        # Loaded at once, then every `rebuild_s` so that purged keys leave; a failed load
        # leaves the index incomplete and is tried again a second later.
        self._rebuilder = BackgroundLoop(
            self._rebuild,
            name="cache index load",
            interval_s=self._rebuild_s,
            wait_first=False,
            backoff=Backoff(first_s=1.0, cap_s=1.0),
        )
        self._rebuilder.start()

    def _stop_rebuilding(self) -> None:
        self._complete = False
        if self._rebuilder is not None:
            self._rebuilder.cancel()
            self._rebuilder = None

    async def _rebuild(self) -> None:
        """Load every key anew (purged keys leave); notified keys land in both sets."""
        loading: set[str] = set()
        self._loading = loading
        try:
            async with await psycopg.AsyncConnection.connect(self._conninfo) as conn:
                cursor = conn.cursor(name="cache-index")  # server side: bounded memory
                await cursor.execute(_KEYS)
                while rows := await cursor.fetchmany(10_000):
                    loading.update(row[0] for row in rows)
                    if len(loading) > self._max_keys:
                        log.warning("cache index over its size; every miss asks Postgres")
                        self._keys, self._complete = set(), False
                        return
            self._keys = loading
            self._complete = True
        finally:
            self._loading = None
            self.rebuilds += 1
