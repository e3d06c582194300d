"""Spec files (YAML or JSON) in and out of the registry."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import InvalidDocument, SpecDocument, content_hash, parse_document
from app.core.setting_groups import DocumentLimits
from app.models import Spec, SpecVersion
from app.registry import service


class SpecFileError(Exception):
    """A spec file that cannot be read or is not a valid document."""


def load_spec_file(path: Path, limits: DocumentLimits | None = None) -> SpecDocument:
    """Read and validate one spec file; errors name the file and every problem in it."""
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SpecFileError(f"{path}: cannot read: {exc}") from None
    try:
        return parse_document(data, limits)
    except InvalidDocument as exc:
        lines = "\n".join(f"  {i.pointer or '/'}: {i.message}" for i in exc.issues)
        raise SpecFileError(f"{path}: not a valid spec document:\n{lines}") from None


def spec_files(directory: Path) -> list[Path]:
    """The spec files of a directory, in name order."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


PushAction = Literal["created", "versioned", "unchanged"]


@dataclass(frozen=True)
class PushResult:
    name: str
    action: PushAction
    version: int
    published: bool
    failing: tuple[str, ...] = ()  # cases that kept the version from going live


# Runs the version's suite before a publish: the names of the failing cases.
SuiteCheck = Callable[[AsyncSession, Spec, SpecVersion], Awaitable[list[str]]]


async def push_document(
    session: AsyncSession,
    document: SpecDocument,
    *,
    author: str,
    publish: bool,
    check: SuiteCheck | None = None,
) -> PushResult:
    """Create the spec or a new version when the content changed; unchanged content is a no-op.

    With `publish`, the resulting version is made live unless it already is, and, given a
    `check`, only when the version passes its test cases.
    """
    try:
        spec = await service.get_spec(session, document.name)
    except service.SpecNotFound:
        spec, version = await service.create_spec(
            session, document=document, message="Pushed from file", author=author
        )
        action: PushAction = "created"
        number = version.version
    else:
        latest = await service.get_version(session, spec, spec.latest_version)
        if latest.content_hash == content_hash(document):
            action, number = "unchanged", latest.version
        else:
            created = await service.create_version(
                session,
                spec=spec,
                document=document,
                base_version=spec.latest_version,
                message="Pushed from file",
                author=author,
            )
            action, number = "versioned", created.version
    published = False
    if publish and spec.live_version != number:
        if check is not None:
            version_row = await service.get_version(session, spec, number)
            failing = await check(session, spec, version_row)
            if failing:
                return PushResult(document.name, action, number, False, tuple(failing))
        # Recorded, not enforced: a file push is its author's own change (see the README).
        contract = await service.check_contract(
            session, spec=spec, version=number, confirm_breaking=True
        )
        await service.publish(
            session,
            name=document.name,
            version=number,
            actor=author,
            reason="Pushed from file",
            contract=contract,
        )
        published = True
    return PushResult(document.name, action, number, published)
