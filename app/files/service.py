"""The runtime's file step: prepare a call's files (in a thread), keep their bytes if asked.

Stored inputs (test cases) hold references; `prepare_stored` loads their bytes back from
`stored_file` and prepares them like an upload, so a case with a file runs like a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.compiler.file_fields import REF_KEY, FileField, file_fields
from app.core.errors import Issue
from app.core.setting_groups import FileLimits
from app.files.errors import FileRejected
from app.files.intake import Attachments, Upload, is_reference, prepare_input
from app.files.store import load_files, store_files


@dataclass
class FileInputs:
    """Limits and storage of file inputs, shared by every call of a process.

    With `limits.keep_files` (SPECLOOM_KEEP_FILES) every call's file bytes are stored.
    """

    limits: FileLimits = field(default_factory=FileLimits)
    sessionmaker: async_sessionmaker[AsyncSession] | None = None

    async def prepare(
        self, fields: dict[str, FileField], payload: Any, uploads: Iterable[Upload] = ()
    ) -> tuple[Any, Attachments | None]:
        """The input with file references, and its attachments; 413/422 for a bad file.

        `fields` are the version's file fields (`CompiledSpec.file_fields`).
        """
        uploads = list(uploads)
        if not fields and not uploads:
            return payload, None  # the common case costs nothing
        prepared, attachments = await asyncio.to_thread(
            prepare_input, fields, payload, uploads, self.limits
        )
        if attachments is not None and attachments.files and self.limits.keep_files:
            await self.store(attachments)
        return prepared, attachments

    async def store(self, attachments: Attachments) -> None:
        """Keep the bytes of the attachments (once per hash)."""
        if self.sessionmaker is None:
            return
        async with self.sessionmaker() as session:
            await store_files(session, attachments.files)
            await session.commit()

    async def prepare_stored(
        self, fields: dict[str, FileField], payload: Any
    ) -> tuple[Any, Attachments | None]:
        """`prepare` for a stored input whose file fields may hold references."""
        if not fields or not isinstance(payload, dict):
            return payload, None
        refs = {k: v[REF_KEY] for k, v in payload.items() if k in fields and is_reference(v)}
        uploads: list[Upload] = []
        if refs:
            if self.sessionmaker is None:
                raise FileRejected("stored file references cannot be resolved here")
            async with self.sessionmaker() as session:
                stored = await load_files(session, (str(r.get("sha256")) for r in refs.values()))
            for name, ref in refs.items():
                blob = stored.get(str(ref.get("sha256")))
                if blob is None:
                    raise FileRejected(
                        f"{name}: the file {ref.get('sha256')} is not stored",
                        issues=[Issue("/" + name, "unknown file")],
                    )
                uploads.append(Upload(name, blob.data, blob.media_type, ref.get("filename")))
        rest = {k: v for k, v in payload.items() if k not in refs}
        return await self.prepare(fields, rest, uploads)


async def store_input_files(
    session: AsyncSession, input_schema: dict[str, Any], payload: Any, limits: FileLimits
) -> Any:
    """A test case's input with its files stored (once per hash) and replaced by references.

    References already in the input must name stored files (e.g. a call kept with
    SPECLOOM_KEEP_FILES, promoted to a case).
    """
    fields = file_fields(input_schema)
    if not fields or not isinstance(payload, dict):
        return payload
    refs = {k: v for k, v in payload.items() if k in fields and is_reference(v)}
    if refs:
        known = await load_files(session, (str(v[REF_KEY].get("sha256")) for v in refs.values()))
        for name, value in refs.items():
            if str(value[REF_KEY].get("sha256")) not in known:
                raise FileRejected(
                    f"{name}: the file {value[REF_KEY].get('sha256')} is not stored; send bytes",
                    issues=[Issue("/input/" + name, "unknown file")],
                )
    rest = {k: v for k, v in payload.items() if k not in refs}
    prepared, attachments = await asyncio.to_thread(prepare_input, fields, rest, (), limits)
    if attachments is not None:
        await store_files(session, attachments.files)
    return {**prepared, **refs}
