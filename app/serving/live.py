"""Which version of an agent serves a call: held in memory, invalidated through Postgres.

Publishing or rolling back sends a NOTIFY on commit; every server process LISTENs and drops
what it cached, so a move of the live pointer is seen everywhere within milliseconds and
without a restart. Pinned versions are immutable, so they are cached for good.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.compiler import CompiledSpec, compile_spec
from app.compiler.document import AUTO_MODEL, ModelChoice, SpecDocument, behaviour_hash
from app.compiler.file_fields import file_fields
from app.core.errors import NotFound
from app.core.listen import listener
from app.core.loops import BackgroundLoop
from app.core.offload import off_loop
from app.executions.redaction import has_sensitive
from app.models import ModelMatrix, Spec, SpecVersion
from app.registry.service import LIVE_CHANNEL

log = structlog.get_logger(__name__)


class AgentNotFound(NotFound):
    slug = "agent-not-found"
    title = "Agent not found"


class AgentNotLive(NotFound):
    slug = "agent-not-live"
    title = "Agent not published"


class AgentVersionNotFound(NotFound):
    slug = "agent-version-not-found"
    title = "Agent version not found"


@dataclass(frozen=True)
class AgentVersion:
    """One version of an agent, ready to serve: its document and its compiled form."""

    name: str
    version: int
    document: SpecDocument
    compiled: CompiledSpec
    offline_hints: dict[str, Any]
    sensitive_output: bool = False
    sensitive_input: bool = False  # worked out once: records of other agents skip redaction
    # `model: {name: auto}`: the models its latest finished model matrix passed, cheapest
    # valid call first (empty: no such matrix, the default model serves it).
    auto_models: tuple[str, ...] = ()


def agent_version(
    name: str,
    version: int,
    document: dict[str, Any],
    digest: str,
    auto_models: tuple[str, ...] = (),
) -> AgentVersion:
    """Build the serving form of a stored version (compiled once per content hash)."""
    parsed = SpecDocument.model_validate(document)
    return AgentVersion(
        name=name,
        version=version,
        document=parsed,
        compiled=compile_spec(parsed, digest),
        offline_hints=offline_hints(parsed),
        sensitive_output=has_sensitive(parsed.output_schema),
        sensitive_input=has_sensitive(parsed.input_schema),
        auto_models=auto_models,
    )


def on_model(agent: AgentVersion, model: str) -> AgentVersion:
    """`agent` answered by `model` alone: no fallbacks, no escalation, no matrix choice (what
    a model matrix measures). The prompt and schemas are the version's own."""
    choice = agent.document.model or ModelChoice()
    pinned = choice.model_copy(update={"name": model, "fallbacks": [], "escalation": []})
    document = agent.document.model_copy(update={"model": pinned})
    return replace(agent, document=document, auto_models=())


def latest_matrix(spec_id: uuid.UUID, document: dict[str, Any]) -> Select[ModelMatrix]:
    """The latest finished model matrix measuring `document`'s behaviour (any version of
    the spec with the same prompt and schemas)."""
    return (
        select(ModelMatrix)
        .where(
            ModelMatrix.spec_id == spec_id,
            ModelMatrix.behaviour_hash == behaviour_hash(document),
            ModelMatrix.status == "finished",
        )
        .order_by(ModelMatrix.finished_at.desc())
        .limit(1)
    )


async def auto_models(
    session: AsyncSession, spec_id: uuid.UUID, document: dict[str, Any]
) -> tuple[str, ...]:
    """The passing models of the latest finished matrix measuring `document`'s behaviour,
    when its model is `auto` (else nothing to look up)."""
    model = document.get("model")
    if not isinstance(model, dict) or model.get("name") != AUTO_MODEL:
        return ()
    matrix = await session.scalar(latest_matrix(spec_id, document))
    return tuple(str(m) for m in matrix.ranking) if matrix is not None else ()


def offline_hints(document: SpecDocument) -> dict[str, Any]:
    """What the offline model may know of a spec: what every model sees in the prompt (its
    examples), never its tests' expected values: a test answered from its own expectations
    would pass whatever the spec says."""
    return {
        "specloom": {
            "examples": [e.model_dump(mode="json") for e in document.examples],
            # Fields holding an uploaded document's text: the offline model reads them.
            "documents": sorted(file_fields(document.input_schema)),
        }
    }


class LiveAgents:
    """The in-memory map of agent name → live version, kept current by LISTEN/NOTIFY."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._live: dict[str, AgentVersion | None] = {}
        self._pinned: dict[tuple[str, int], AgentVersion] = {}
        self._generation = 0
        # One load per agent at a time: a burst of calls to an agent not yet in memory must
        # not load and compile it once per call.
        self._loading: dict[str, asyncio.Task[AgentVersion | None]] = {}
        self._listeners: list[Callable[[], None]] = []
        self._listener: BackgroundLoop | None = None

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever any live pointer may have moved."""
        self._listeners.append(callback)

    def invalidate(self, name: str | None = None) -> None:
        """Forget the live version of `name` (or of every agent), and its pinned versions:
        an `auto` version serves what its latest model matrix says, which may change."""
        self._generation += 1
        if name is None:
            self._live.clear()
            self._loading.clear()
            self._pinned.clear()
        else:
            self._live.pop(name, None)
            self._loading.pop(name, None)  # calls from now on read the new pointer
            for key in [key for key in self._pinned if key[0] == name]:
                del self._pinned[key]
        for callback in self._listeners:
            callback()

    async def get(self, name: str, version: int | None = None) -> AgentVersion:
        """The version serving a call: the live one, or `version` when pinned."""
        if version is not None:
            pinned = self._pinned.get((name, version))
            if pinned is None:
                pinned = await self._load_pinned(name, version)
                self._pinned[(name, version)] = pinned
            return pinned
        if name in self._live:
            cached = self._live[name]
        else:
            task = self._loading.get(name)
            if task is None:
                task = asyncio.create_task(self._fill(name), name=f"load agent {name}")
                self._loading[name] = task
                task.add_done_callback(partial(self._loaded, name))
            # Shielded: one caller going away must not cancel the load the others await.
            cached = await asyncio.shield(task)
        if cached is None:
            raise AgentNotLive(
                f"agent {name!r} has no live version yet; publish one, or pin ?version=N"
            )
        return cached

    async def _fill(self, name: str) -> AgentVersion | None:
        generation = self._generation
        cached = await self._load_live(name)
        # A NOTIFY that arrived while loading means what we read may be stale already.
        if generation == self._generation:
            self._live[name] = cached
        return cached

    def _loaded(self, name: str, task: asyncio.Task[AgentVersion | None]) -> None:
        if self._loading.get(name) is task:
            del self._loading[name]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone away

    async def all_live(self) -> list[AgentVersion]:
        """Every live agent, by name (for the OpenAPI document and tool lists)."""
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        Spec.name, Spec.live_version, SpecVersion.document, SpecVersion.content_hash
                    )
                    .join(
                        SpecVersion,
                        (SpecVersion.spec_id == Spec.id)
                        & (SpecVersion.version == Spec.live_version),
                    )
                    .order_by(Spec.name)
                )
            ).all()
        return [agent_version(n, v, d, h) for n, v, d, h in rows if v is not None]

    async def _load_live(self, name: str) -> AgentVersion | None:
        async with self._sessionmaker() as session:
            row = (
                await session.execute(
                    select(
                        Spec.id, Spec.live_version, SpecVersion.document, SpecVersion.content_hash
                    )
                    .outerjoin(
                        SpecVersion,
                        (SpecVersion.spec_id == Spec.id)
                        & (SpecVersion.version == Spec.live_version),
                    )
                    .where(Spec.name == name)
                )
            ).first()
            if row is None:
                raise AgentNotFound(f"no agent named {name!r}")
            spec_id, live_version, document, digest = row
            if live_version is None:
                return None
            models = await auto_models(session, spec_id, document)
        return await off_loop(agent_version, name, live_version, document, digest, models)

    async def _load_pinned(self, name: str, version: int) -> AgentVersion:
        async with self._sessionmaker() as session:
            spec_id = await session.scalar(select(Spec.id).where(Spec.name == name))
            if spec_id is None:
                raise AgentNotFound(f"no agent named {name!r}")
            row = (
                await session.execute(
                    select(SpecVersion.document, SpecVersion.content_hash).where(
                        SpecVersion.spec_id == spec_id, SpecVersion.version == version
                    )
                )
            ).first()
            if row is None:
                raise AgentVersionNotFound(f"agent {name!r} has no version {version}")
            models = await auto_models(session, spec_id, row[0])
        return await off_loop(agent_version, name, version, row[0], row[1], models)

    def start(self, conninfo: str) -> None:
        """Start listening for live-pointer moves in the background."""
        self._listener = listener(
            conninfo,
            LIVE_CHANNEL,
            what="live listener",
            on_notice=lambda payload: self.invalidate(payload or None),
            # Anything may have moved while we were not listening.
            on_connected=self.invalidate,
            # Keep serving what we know while the database is out of reach (nobody can move
            # a pointer in it meanwhile): calls that need nothing else keep working, and
            # everything is read again once the listener is back.
            on_lost=_keep_serving,
        )
        self._listener.start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None


def _keep_serving() -> None:
    """What the live view does when its listener loses the database: nothing."""
