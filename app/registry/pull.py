"""Spec files out of the registry (`specs pull`) and what a push would change (`specs diff`).

A pulled file holds the version's canonical document, top-level fields in the order of the
spec document (name, title, description, input_schema, rules, output_schema, examples,
model, tests), so pulling twice writes the same bytes and pushing a pulled file is a no-op:
it parses back to the same content hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from app.compiler.document import SpecDocument, content_hash
from app.registry import service
from app.registry.diff import Change, diff_documents


def dump_document(document: SpecDocument) -> str:
    """The YAML text of a spec file: stable key order, block style, unicode kept."""
    text: str = yaml.safe_dump(document.canonical(), sort_keys=False, allow_unicode=True, width=100)
    return text


@dataclass(frozen=True)
class Pulled:
    """One spec's file: its text, or None when it has no live version (and not --latest)."""

    name: str
    version: int | None
    text: str | None


async def pull_specs(session: AsyncSession, *, latest: bool) -> list[Pulled]:
    """The file of the live (or latest) version of every spec, by name."""
    pulled = []
    for spec in await service.list_specs(session):
        number = spec.latest_version if latest else spec.live_version
        if number is None:
            pulled.append(Pulled(spec.name, None, None))
            continue
        version = await service.get_version(session, spec, number)
        document = SpecDocument.model_validate(version.document)
        pulled.append(Pulled(spec.name, number, dump_document(document)))
    return pulled


def write_pulled(pulled: list[Pulled], directory: Path) -> list[tuple[Pulled, Path | None]]:
    """Write each file to `<directory>/<name>.yaml`; specs without a text get no file."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Pulled, Path | None]] = []
    for item in pulled:
        path = None
        if item.text is not None:
            path = directory / f"{item.name}.yaml"
            path.write_text(item.text, encoding="utf-8")
        written.append((item, path))
    return written


@dataclass(frozen=True)
class PendingPush:
    """What pushing one document would do: create the spec, nothing, or a new version."""

    name: str
    action: Literal["new spec", "unchanged", "changed"]
    against: int | None = None  # the latest version the document was compared with
    changes: tuple[Change, ...] = ()


async def pending_push(session: AsyncSession, document: SpecDocument) -> PendingPush:
    """Compare a document with its spec's latest version, as `push` would."""
    try:
        spec = await service.get_spec(session, document.name)
    except service.SpecNotFound:
        return PendingPush(document.name, "new spec")
    latest = await service.get_version(session, spec, spec.latest_version)
    if latest.content_hash == content_hash(document):
        return PendingPush(document.name, "unchanged", latest.version)
    before = SpecDocument.model_validate(latest.document).canonical()
    changes = diff_documents(before, document.canonical())
    return PendingPush(document.name, "changed", latest.version, tuple(changes))


def describe(pending: PendingPush) -> list[str]:
    """Lines for the terminal: a headline, then one line per change (JSON Pointer paths)."""
    if pending.action == "new spec":
        return [f"{pending.name}: new spec"]
    if pending.action == "unchanged":
        return [f"{pending.name}: unchanged (version {pending.against})"]
    lines = [f"{pending.name}: {len(pending.changes)} change(s) against version {pending.against}"]
    for op, path, old, new in pending.changes:
        if op == "add":
            lines.append(f"  + {path or '/'}: {_short(new)}")
        elif op == "remove":
            lines.append(f"  - {path or '/'}: {_short(old)}")
        else:
            lines.append(f"  ~ {path or '/'}: {_short(old)} -> {_short(new)}")
    return lines


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
