"""File bytes in Postgres, once per SHA-256 (table `stored_file`, migration 0007)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.files.prepare import PreparedFile
from app.models import StoredFile


async def store_files(session: AsyncSession, files: Iterable[PreparedFile]) -> None:
    """Insert each file's bytes unless a file with the same hash is already stored."""
    rows = {
        f.sha256: {
            "sha256": f.sha256,
            "media_type": f.media_type,
            "size": f.size,
            "pages": f.pages,
            "data": f.data,
        }
        for f in files
    }
    if rows:
        statement = insert(StoredFile).values(list(rows.values()))
        await session.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))


async def load_files(session: AsyncSession, hashes: Iterable[str]) -> dict[str, StoredFile]:
    """The stored files among `hashes`, by hash."""
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    found = await session.scalars(select(StoredFile).where(StoredFile.sha256.in_(wanted)))
    return {f.sha256: f for f in found}
