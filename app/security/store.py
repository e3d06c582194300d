"""Who is calling: the key behind a bearer token, found fast and limited per key.

The hot path must not query the database on every call, so lookups are cached in-process
for `ttl_s` (5 s by default). The price: a key revoked by another process keeps working
there for up to `ttl_s`; in the revoking process it stops at once (the cache entry is
dropped). `last_used_at` is written at most once a minute per key and process.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.errors import database_unreachable
from app.core.ratelimit import RateLimiter
from app.security import keys
from app.security.roles import Requirement, Role, role_of, satisfies

BOOTSTRAP_ACTOR = "bootstrap-admin"
_TOUCH_EVERY_S = 60.0
_MAX_ENTRIES = 10_000  # bounds memory when someone floods us with random keys


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a stored key, the bootstrap admin key (`key_id` None), or a
    person signed in to the web app (`person_id` set, `name` their email address)."""

    name: str
    scopes: frozenset[str]
    key_id: uuid.UUID | None = None
    # An invoke key's limits; None: any agent. More kinds of limit (labels) sit beside it.
    agents: frozenset[str] | None = None
    rpm: int | None = None
    labels: frozenset[str] | None = None  # None: any label; else only these (production too)
    person_id: uuid.UUID | None = None
    display_name: str | None = None

    @property
    def role(self) -> Role | None:
        """The highest management role (None for an invoke-only key)."""
        return role_of(self.scopes)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def has(self, need: Requirement) -> bool:
        """Whether this caller meets a route's requirement."""
        return satisfies(self.scopes, need)

    @property
    def actor(self) -> str:
        """Who did it, as the audit trail records it: the person's email address, the key id,
        or "bootstrap-admin"."""
        if self.person_id is not None:
            return self.name
        return str(self.key_id) if self.key_id is not None else BOOTSTRAP_ACTOR

    @property
    def label(self) -> str:
        """Who did it, for people: versions' author and releases' actor."""
        if self.person_id is not None:
            return f"{self.display_name} <{self.name}>" if self.display_name else self.name
        return f"{self.name} ({self.key_id})" if self.key_id is not None else BOOTSTRAP_ACTOR

    def may_call(self, agent: str) -> bool:
        """Whether this key may call (or read the contract of) `agent`."""
        if self.is_admin:
            return True
        return "invoke" in self.scopes and (self.agents is None or agent in self.agents)


def bootstrap_principal() -> Principal:
    """The bootstrap admin key (SPECLOOM_ADMIN_KEY or the generated file)."""
    return Principal(name=BOOTSTRAP_ACTOR, scopes=frozenset({"admin", "invoke"}))


@dataclass
class _Entry:
    principal: Principal | None
    digest: str
    expires: float


@dataclass
class KeyStore:
    """Finds principals by token, caches them briefly, and applies per-key rate limits."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    admin_key: str
    limiter: RateLimiter | None = None
    # How long a lookup is trusted (SPECLOOM_KEY_CACHE_TTL_S, the revocation lag).
    ttl_s: float = field(kw_only=True)
    _cache: dict[str, _Entry] = field(default_factory=dict)
    _touched: dict[uuid.UUID, float] = field(default_factory=dict)
    _loading: dict[str, asyncio.Task[_Entry]] = field(default_factory=dict)
    _generation: int = 0
    _admin_digest: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._admin_digest = keys.hash_secret(self.admin_key)  # once, not per request

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of `token`, or None when it is unknown or revoked."""
        # Constant time: the bootstrap key is a secret compared as such.
        if hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return bootstrap_principal()
        return await self.by_digest(keys.hash_secret(token))

    async def by_digest(self, digest: str) -> Principal | None:
        """The principal whose secret hashes to `digest` (the web session keeps only that)."""
        if hmac.compare_digest(digest, self._admin_digest):
            return bootstrap_principal()
        now = self.clock.monotonic()
        entry = self._cache.get(digest)
        if entry is None or entry.expires <= now:
            entry = await self._refresh_or_keep(digest, entry)
        if entry.principal is not None and entry.principal.key_id is not None:
            await self._maybe_touch(entry.principal.key_id)
        return entry.principal

    async def _refresh_or_keep(self, digest: str, stale: _Entry | None) -> _Entry:
        """A fresh lookup; while the database is out of reach, the last answer stands (no
        key can be revoked there meanwhile) so callers it knows keep working."""
        try:
            return await self._refresh(digest)
        except Exception as exc:
            if stale is None or not database_unreachable(exc):
                raise
            return stale

    async def _refresh(self, digest: str) -> _Entry:
        # One lookup per key at a time: when an entry expires under a burst, the calls
        # arriving meanwhile share it instead of each querying Postgres.
        task = self._loading.get(digest)
        if task is None:
            task = asyncio.create_task(self._fetch(digest), name="load api key")
            self._loading[digest] = task
            task.add_done_callback(partial(self._fetched, digest))
        return await asyncio.shield(task)

    async def _fetch(self, digest: str) -> _Entry:
        generation = self._generation
        entry = _Entry(await self._load(digest), digest, self.clock.monotonic() + self.ttl_s)
        if generation != self._generation:
            return entry  # a key was revoked meanwhile: this read may predate it, keep it out
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[digest] = entry
        return entry

    def _fetched(self, digest: str, task: asyncio.Task[_Entry]) -> None:
        if self._loading.get(digest) is task:
            del self._loading[digest]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone away

    def forget(self, key_id: uuid.UUID) -> None:
        """Drop a key from this process's cache (after it was revoked here)."""
        self._generation += 1
        for digest, entry in list(self._cache.items()):
            if entry.principal is not None and entry.principal.key_id == key_id:
                del self._cache[digest]

    async def allow(self, principal: Principal) -> float | None:
        """None if the key is within its rpm now, else seconds until it may try again."""
        if principal.rpm is None or principal.key_id is None or self.limiter is None:
            return None
        bucket = f"key:{principal.key_id}"
        if await self.limiter.acquire(bucket, rpm=principal.rpm, tpm=None, tokens=0, max_wait_s=0):
            return None
        return await self._retry_after(bucket)

    async def _load(self, digest: str) -> Principal | None:
        async with self.sessionmaker() as session:
            key = await keys.find_by_hash(session, digest)
        if key is None or not hmac.compare_digest(key.hash, digest):
            return None
        return Principal(
            name=key.name,
            scopes=frozenset(key.scopes),
            key_id=key.id,
            agents=frozenset(key.agents) if key.agents is not None else None,
            rpm=key.rpm,
            labels=frozenset(key.labels) if key.labels is not None else None,
        )

    async def _maybe_touch(self, key_id: uuid.UUID) -> None:
        now = self.clock.monotonic()
        if now - self._touched.get(key_id, -math.inf) < _TOUCH_EVERY_S:
            return
        self._touched[key_id] = now
        try:
            async with self.sessionmaker() as session, session.begin():
                await keys.touch(session, key_id, self.clock.now())
        except Exception as exc:  # a usage timestamp is not worth failing the call for
            if not database_unreachable(exc):
                raise

    async def _retry_after(self, bucket: str) -> float:
        # The limiter counts 1-second slots over the last 61 s; the oldest slot leaving the
        # span is the earliest moment a request can fit again.
        async with self.sessionmaker() as session:
            oldest: datetime | None = await session.scalar(
                text(
                    "SELECT min(window_start) FROM rate_window"
                    " WHERE bucket = :bucket AND window_start >= :since"
                ),
                {"bucket": bucket, "since": self.clock.now() - timedelta(seconds=61)},
            )
        if oldest is None:
            return 1.0
        return max((oldest + timedelta(seconds=61) - self.clock.now()).total_seconds(), 1.0)
