"""Which version answers a call: the live one, a label's, or a rollout's candidate; and
whether a shadow runs the call again after it is answered.

What each agent's labels, running rollout and running shadow are is kept in memory and
dropped on the same NOTIFY that moves the live pointer, so a label moved, a rollout ended
(by a person or by its guard) or a shadow stopped in any process is seen by every process
at once, as a publish is.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import InvalidInput, Issue
from app.executions.record import Arm
from app.models import Spec
from app.registry import labels as label_service
from app.registry.labels import PRODUCTION, LabelNotFound, checked_label
from app.registry.rollouts import running_rollout
from app.registry.shadows import running_shadow
from app.serving.live import AgentNotFound, LiveAgents

BUCKETS = 10_000  # a rollout's percent is a share of these, so 0.01 % steps are possible


@dataclass(frozen=True)
class Canary:
    id: uuid.UUID
    version: int
    percent: float


@dataclass(frozen=True)
class ShadowRun:
    id: uuid.UUID
    version: int
    sample: float


@dataclass(frozen=True)
class AgentReleases:
    """An agent's labels (production left out), running rollout and running shadow."""

    labels: dict[str, int] = field(default_factory=dict)
    canary: Canary | None = None
    shadow: ShadowRun | None = None


@dataclass(frozen=True)
class Pick:
    """What answers one call: `version` (None: the live one), tagged on its record as `arm`;
    and the shadow to run after it, if any."""

    version: int | None
    arm: Arm
    shadow: ShadowRun | None = None


def bucket(rollout_id: uuid.UUID, subject: str) -> int:
    """A subject's place in a rollout, 0 to 9999: the same subject always lands in the same
    place (sticky), and each rollout shuffles subjects afresh."""
    digest = hashlib.sha256(f"{rollout_id}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_canary(canary: Canary, subject: str) -> bool:
    """Whether `subject` gets the rollout's candidate."""
    return bucket(canary.id, subject) < round(canary.percent * BUCKETS / 100)


def requested(raw: str | None, where: str) -> str | None:
    """A label the caller named (None: none), or 422 when it is not a label's slug."""
    return None if raw is None else checked_label(raw, where)


class ReleaseView:
    """Each agent's releases, read once and kept until any release of any agent moves."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], live: LiveAgents) -> None:
        self._sessionmaker = sessionmaker
        self._agents: dict[str, AgentReleases] = {}
        self._generation = 0
        # One read per agent at a time: a burst of calls right after a move must not read
        # the same rows once per call.
        self._loading: dict[str, asyncio.Task[AgentReleases]] = {}
        live.on_change(self.clear)

    def clear(self) -> None:
        """Forget everything (a release moved somewhere)."""
        self._generation += 1
        self._agents.clear()
        self._loading.clear()

    async def of(self, name: str) -> AgentReleases:
        """The releases of agent `name`."""
        cached = self._agents.get(name)
        if cached is not None:
            return cached
        task = self._loading.get(name)
        if task is None:
            task = asyncio.create_task(self._fill(name), name=f"load releases of {name}")
            self._loading[name] = task
            task.add_done_callback(partial(self._loaded, name))
        # Shielded: one caller going away must not cancel the read the others await.
        return await asyncio.shield(task)

    async def _fill(self, name: str) -> AgentReleases:
        generation = self._generation
        loaded = await self._load(name)
        if generation == self._generation:  # no move arrived while reading
            self._agents[name] = loaded
        return loaded

    def _loaded(self, name: str, task: asyncio.Task[AgentReleases]) -> None:
        if self._loading.get(name) is task:
            del self._loading[name]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone away

    async def pick(
        self, name: str, *, label: str | None, version: int | None, subject: str
    ) -> Pick:
        """What answers a call to `name`: a pinned version, a label's, or production's
        (the live version, or a rollout's candidate for subjects in its share)."""
        if version is not None:
            if label is not None:
                raise InvalidInput(
                    "choose a version or a label, not both",
                    issues=[Issue("query:version", "given together with a label")],
                )
            return Pick(version, Arm())
        releases = await self.of(name)
        if label is not None and label != PRODUCTION:
            labelled = releases.labels.get(label)
            if labelled is None:
                raise LabelNotFound(f"agent {name!r} has no label {label!r}")
            return Pick(labelled, Arm(label=label))
        canary = releases.canary
        if canary is None:
            return Pick(None, Arm(label=label), releases.shadow)
        if in_canary(canary, subject):
            return Pick(canary.version, Arm(label=label, rollout_id=canary.id))
        return Pick(None, Arm(label=label, rollout_id=canary.id), releases.shadow)

    async def _load(self, name: str) -> AgentReleases:
        async with self._sessionmaker() as session:
            spec_id = await session.scalar(select(Spec.id).where(Spec.name == name))
            if spec_id is None:
                raise AgentNotFound(f"no agent named {name!r}")
            labels = await label_service.labels_of(session, spec_id)
            rollout = await running_rollout(session, spec_id)
            shadow = await running_shadow(session, spec_id)
        return AgentReleases(
            labels=labels,
            canary=Canary(rollout.id, rollout.version, rollout.percent) if rollout else None,
            shadow=ShadowRun(shadow.id, shadow.version, shadow.sample) if shadow else None,
        )
