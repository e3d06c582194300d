"""What is kept of a file: its hash, media type, size and pages in the execution, never the
bytes (unless SPECLOOM_KEEP_FILES, then once per hash); the cache key holds the hash."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.fakes.upstream import FakeUpstream
from tests.files.conftest import b64, file_agent
from tests.files.samples import make_pdf
from tests.serving.conftest import ApiFactory, execution


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


async def test_the_execution_row_holds_the_hash_and_size_not_the_bytes(
    api: httpx.AsyncClient, upstream: FakeUpstream, engine: AsyncEngine
) -> None:
    await file_agent(api)
    pdf = make_pdf(pages=2)
    response = await api.post("/v1/agents/reader", json={"document": b64(pdf)})
    assert response.status_code == 200, response.text
    record = await execution(api, response)
    assert record["input"]["document"] == {
        "$file": {
            "sha256": hashlib.sha256(pdf).hexdigest(),
            "media_type": "application/pdf",
            "size": len(pdf),
            "pages": 2,
        }
    }
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT row_to_json(e)::text FROM execution e WHERE id = :id"),
                {"id": record["id"]},
            )
        ).scalar_one()
        stored = await connection.scalar(text("SELECT count(*) FROM stored_file"))
    assert hashlib.sha256(pdf).hexdigest() in row
    assert b64(pdf)[:64] not in row
    assert b64(pdf)[-64:] not in row
    assert "PURCHASE ORDER" not in row  # nor the extracted text
    assert stored == 0


async def test_the_cache_key_holds_the_file_hash(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api)
    first = await api.post("/v1/agents/reader", json={"document": b64(make_pdf())})
    again = await api.post("/v1/agents/reader", json={"document": b64(make_pdf())})
    other = await api.post(
        "/v1/agents/reader", json={"document": b64(make_pdf(["Another order", "PO 77"]))}
    )
    assert [r.headers["x-specloom-cache"] for r in (first, again, other)] == [
        "miss",
        "hit",
        "miss",
    ]
    assert upstream.calls() == 2


async def test_keep_files_stores_the_bytes_once_per_hash(
    make_api: ApiFactory, upstream: FakeUpstream, engine: AsyncEngine
) -> None:
    pdf = make_pdf()
    async with make_api(keep_files=True) as api:
        await file_agent(api)
        for note in ("one", "two", "three"):  # different inputs, same file
            response = await api.post(
                "/v1/agents/reader",
                files={"document": ("po.pdf", pdf, "application/pdf")},
                data={},
                headers={"Cache-Control": "no-cache"},
            )
            assert response.status_code == 200, (note, response.text)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(text("SELECT sha256, size, pages, data FROM stored_file"))
        ).all()
    assert len(rows) == 1
    sha256, size, pages, data = rows[0]
    assert (sha256, size, pages, bytes(data)) == (hashlib.sha256(pdf).hexdigest(), len(pdf), 1, pdf)
