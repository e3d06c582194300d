"""File inputs reach the model: PDF text (base64 or multipart), images as image content;
bad files are clear 4xx problems and never reach a model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.files.conftest import b64, file_agent, vision_models_file
from tests.files.samples import corrupt, encrypted, make_pdf, make_png
from tests.serving.conftest import ApiFactory, execution

PROBLEM = "application/problem+json"
WORDS = ("PURCHASE ORDER", "4500018342", "Cedar Valley Dental Group")


def user_message(upstream: FakeUpstream) -> Any:
    """The content of the first user message of the last request the fake upstream got."""
    messages = upstream.requests[-1].body["messages"]
    return next(m["content"] for m in messages if m["role"] == "user")


async def test_base64_pdf_reaches_the_model_as_its_text(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api)
    pdf = make_pdf()
    response = await api.post("/v1/agents/reader", json={"document": b64(pdf), "note": "hi"})
    assert response.status_code == 200, response.text
    content = user_message(upstream)
    assert isinstance(content, str)
    for word in WORDS:
        assert word in content
    assert b64(pdf)[:40] not in content  # the text, not the bytes


async def test_multipart_pdf_reaches_the_model_as_its_text(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api)
    response = await api.post(
        "/v1/agents/reader",
        files={
            "document": ("po.pdf", make_pdf(), "application/pdf"),
            "input": (None, json.dumps({"note": "from a form"}), "application/json"),
        },
    )
    assert response.status_code == 200, response.text
    content = user_message(upstream)
    for word in (*WORDS, "from a form"):
        assert word in content
    record = await execution(api, response)
    assert record["input"]["note"] == "from a form"
    assert record["input"]["document"]["$file"]["filename"] == "po.pdf"


async def test_data_url_and_plain_text_files_are_accepted(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api, "notes", media_type="text/plain")
    text = "Meeting notes: ship the Zephyr order on Friday."
    response = await api.post(
        "/v1/agents/notes", json={"document": "data:text/plain;base64," + b64(text.encode())}
    )
    assert response.status_code == 200, response.text
    assert "ship the Zephyr order" in user_message(upstream)


async def test_image_reaches_a_vision_model_as_image_content(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    models = vision_models_file(tmp_path / "vision.yaml", upstream.base_url, vision=True)
    png = make_png()
    async with make_api(models_file=models) as api:
        await file_agent(api, "photo", media_type="image/*")
        response = await api.post(
            "/v1/agents/photo", files={"document": ("shelf.png", png, "image/png")}
        )
        assert response.status_code == 200, response.text
    content = user_message(upstream)
    assert isinstance(content, list)
    images = [part for part in content if part["type"] == "image_url"]
    assert images == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(png)}}
    ]
    assert "document" in content[0]["text"]


async def test_image_without_a_vision_model_is_422_naming_the_models(
    make_api: ApiFactory, upstream: FakeUpstream, tmp_path: Path
) -> None:
    models = vision_models_file(tmp_path / "plain.yaml", upstream.base_url, vision=False)
    async with make_api(models_file=models) as api:
        await file_agent(api, "photo", media_type="image/png")
        response = await api.post("/v1/agents/photo", json={"document": b64(make_png())})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["type"].endswith("no-vision-model")
        assert "openai/fake-fast" in body["detail"]
    assert upstream.calls() == 0


@dataclass(frozen=True)
class Bad:
    name: str
    data: bytes
    status: int
    says: str
    media_type: str = "application/pdf"


BAD = [
    Bad("corrupt", corrupt(make_pdf()), 422, "cannot be read"),
    Bad("encrypted", encrypted(make_pdf()), 422, "encrypted"),
    Bad("too many pages", make_pdf(pages=4), 413, "4 pages"),
    Bad("oversized", make_pdf() + b"\n%" + b"x" * 6000, 413, "bytes"),
    Bad("not a pdf", make_png(), 422, "got image/png", "image/png"),
    Bad("empty", b"", 422, "empty"),
    Bad("text labelled as pdf", b"PO Number: 1\nTotal: 2", 422, "got text/plain"),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
@pytest.mark.parametrize("form", ["json", "multipart"])
async def test_bad_files_are_clear_4xx_problems(
    make_api: ApiFactory, upstream: FakeUpstream, bad: Bad, form: str
) -> None:
    async with make_api(max_file_bytes=5000, max_pdf_pages=3) as api:
        await file_agent(api)
        if form == "json":
            response = await api.post("/v1/agents/reader", json={"document": b64(bad.data)})
        else:
            response = await api.post(
                "/v1/agents/reader", files={"document": ("f", bad.data, bad.media_type)}
            )
    assert response.status_code == bad.status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert bad.says in body["detail"]
    assert body["errors"][0]["pointer"] == "/document"
    assert upstream.calls() == 0


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (
            {
                "document": ("a.pdf", b"%PDF-1", "application/pdf"),
                "other": ("x", b"1", "text/plain"),
            },
            "'other' is not a file field",
        ),
        ({"input": (None, "[1, 2]", "application/json")}, "must be a JSON object"),
        ({"input": (None, "{not json", "application/json")}, "not valid JSON"),
        ({"note": (None, "plain form field")}, "neither `input` nor a file"),
    ],
    ids=["unknown file part", "input not an object", "input not json", "stray field"],
)
async def test_malformed_multipart_calls_are_4xx(
    api: httpx.AsyncClient, upstream: FakeUpstream, files: dict[str, Any], says: str
) -> None:
    await file_agent(api)
    response = await api.post("/v1/agents/reader", files=files)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM
    assert says in response.json()["detail"]
    assert upstream.calls() == 0


async def test_invalid_base64_and_caller_references_are_422(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api)
    bad = await api.post("/v1/agents/reader", json={"document": "not base64 at all!"})
    assert bad.status_code == 422
    assert "not valid base64" in bad.json()["detail"]
    ref = {"$file": {"sha256": "0" * 64, "media_type": "application/pdf", "size": 1}}
    forged = await api.post("/v1/agents/reader", json={"document": ref})
    assert forged.status_code == 422
    assert "not a reference" in forged.json()["detail"]
    assert upstream.calls() == 0


async def test_multipart_bodies_have_their_own_size_limit(
    make_api: ApiFactory, upstream: FakeUpstream
) -> None:
    pdf = make_pdf()
    async with make_api(max_body_bytes=1024, max_upload_bytes=len(pdf) + 2048) as api:
        await file_agent(api)
        fits = await api.post(
            "/v1/agents/reader", files={"document": ("a.pdf", pdf, "application/pdf")}
        )
        assert fits.status_code == 200, fits.text
        big = make_pdf(pages=30)
        too_big = await api.post(
            "/v1/agents/reader", files={"document": ("b.pdf", big, "application/pdf")}
        )
        assert too_big.status_code == 413
        assert too_big.headers["content-type"] == PROBLEM
        # JSON bodies keep the general limit.
        as_json = await api.post("/v1/agents/reader", json={"document": b64(pdf)})
        assert as_json.status_code == 413
