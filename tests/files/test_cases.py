"""Test cases carry files: stored once by hash, referenced by the case, prepared when run."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.evaluation.helpers import start_run
from tests.fakes.upstream import FakeUpstream, Valid
from tests.files.conftest import b64, file_agent
from tests.files.samples import make_pdf
from tests.serving.conftest import ApiFactory


async def test_a_case_with_a_file_is_stored_once_and_runs(
    api: httpx.AsyncClient, upstream: FakeUpstream, database_url: str
) -> None:
    await file_agent(api)
    pdf = make_pdf()
    digest = hashlib.sha256(pdf).hexdigest()
    for name in ("first", "second"):
        created = await api.post(
            "/api/specs/reader/cases",
            json={
                "name": name,
                "input": {"document": b64(pdf)},
                "expect": [{"path": "/summary", "equals": "PO 4500018342"}],
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["input"]["document"]["$file"]["sha256"] == digest
    engine = create_async_engine(database_url)
    async with engine.connect() as connection:
        count = await connection.scalar(text("SELECT count(*) FROM stored_file"))
    await engine.dispose()
    assert count == 1

    upstream.default = Valid({"summary": "PO 4500018342"})
    run = await start_run(api, "reader", 1)
    assert run["status"] == "passed", run
    assert upstream.calls() == 2
    for request in upstream.requests:
        user = next(m["content"] for m in request.body["messages"] if m["role"] == "user")
        assert "4500018342" in user  # the stored file's text reached the model


async def test_a_case_referencing_an_unknown_file_is_422(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api)
    ref = {"$file": {"sha256": "a" * 64, "media_type": "application/pdf", "size": 10}}
    created = await api.post(
        "/api/specs/reader/cases", json={"name": "ghost", "input": {"document": ref}}
    )
    assert created.status_code == 422
    assert "is not stored" in created.json()["detail"]


async def test_a_case_file_is_held_to_the_configured_limit(make_api: ApiFactory) -> None:
    """Case files obey SPECLOOM_MAX_FILE_BYTES as call inputs do, not a default of their own."""
    oversized = make_pdf() + b"\n%" + b"x" * 6000
    async with make_api(max_file_bytes=5000) as api:
        await file_agent(api)
        created = await api.post(
            "/api/specs/reader/cases", json={"name": "big", "input": {"document": b64(oversized)}}
        )
    assert created.status_code == 413, created.text
    assert "bytes" in created.json()["detail"]
