"""Spec files (YAML or JSON) in and out of the registry."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import YAMLError
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import InvalidDocument, SpecDocument, content_hash, parse_document
from app.core.setting_groups import DocumentLimits
from app.models import Spec, SpecVersion
from app.registry import service
from app.security import audit


class _JsonConstructor(SafeConstructor):
    """YAML read as JSON values: a timestamp stays the text it is (JSON has no dates)."""


_JsonConstructor.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)

# YAML 1.2 (ruamel.yaml), not PyYAML's 1.1: in 1.1 `enum: [yes, no]`, `on` and `off` are
# booleans and `1:30` is the number 90, so a spec file would say what its author did not.
_SPEC_YAML = YAML(typ="safe", pure=True)
_SPEC_YAML.Constructor = _JsonConstructor


class SpecFileError(Exception):
    """A spec file that cannot be read or is not a valid document."""


def load_spec_file(path: Path, limits: DocumentLimits | None = None) -> SpecDocument:
    """Read and validate one spec file; errors name the file and every problem in it."""
    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw) if path.suffix == ".json" else _SPEC_YAML.load(raw)
    except (OSError, ValueError, YAMLError) as exc:
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
    # The suite was answered by the offline model: no evidence, so not published unforced.
    offline: bool = False


@dataclass(frozen=True)
class SuiteOutcome:
    """What a version's suite showed: its failing cases, and whether the offline model
    answered it (then its passes are placeholders, not evidence)."""

    failing: tuple[str, ...]
    offline: bool


# Runs the version's suite before a publish.
SuiteCheck = Callable[[AsyncSession, Spec, SpecVersion], Awaitable[SuiteOutcome]]


async def push_document(
    session: AsyncSession,
    document: SpecDocument,
    *,
    author: str,
    publish: bool,
    check: SuiteCheck | None = None,
    force_reason: str | None = None,
) -> PushResult:
    """Create the spec or a new version when the content changed; unchanged content is a no-op.

    With `publish`, the resulting version is made live unless it already is, and, given a
    `check`, only when the version passes its test cases on a real model, unless a
    `force_reason` (recorded on the release) overrides the test gate.
    """
    try:
        spec = await service.get_spec(session, document.name)
    except service.SpecNotFound:
        spec, version = await service.create_spec(
            session, document=document, message="Pushed from file", author=author
        )
        action: PushAction = "created"
        number = version.version
        await audit.record(
            session,
            actor=author,
            action="spec.created",
            target=f"spec:{spec.name}",
            details={"version": number, "message": "Pushed from file"},
        )
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
    if not publish or spec.live_version == number:
        return PushResult(document.name, action, number, False)
    forced = False
    if check is not None:
        outcome = await check(session, spec, await service.get_version(session, spec, number))
        forced = bool(outcome.failing) or outcome.offline
        if forced and force_reason is None:
            return PushResult(
                document.name, action, number, False, outcome.failing, outcome.offline
            )
    # Recorded, not enforced: a file push is its author's own change (see the README).
    contract = await service.check_contract(
        session, spec=spec, version=number, confirm_breaking=True
    )
    reason = force_reason if forced else "Pushed from file"
    release = await service.publish(
        session,
        name=document.name,
        version=number,
        actor=author,
        reason=reason,
        forced=forced,
        contract=contract,
    )
    # The same trail as a publish through the API: who, what moved, and how the gate passed.
    await audit.record(
        session,
        actor=author,
        action="spec.force_published" if forced else "spec.published",
        target=f"spec:{spec.name}",
        details={
            "from_version": release.from_version,
            "to_version": release.to_version,
            "reason": reason,
            "test_gate": "forced" if forced else ("passed" if check else "not run"),
        },
    )
    return PushResult(document.name, action, number, True)
