"""The OpenAPI documents describe both request forms of an agent with file fields."""

from __future__ import annotations

import httpx
from openapi_spec_validator import validate

from tests.fakes.upstream import FakeUpstream
from tests.files.conftest import file_agent


async def test_both_documents_validate_and_show_the_multipart_form(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await file_agent(api)
    for url in ("/v1/agents/reader/openapi.json", "/openapi.json"):
        response = await api.get(url)
        assert response.status_code == 200
        document = response.json()
        validate(document)
        content = document["paths"]["/v1/agents/reader"]["post"]["requestBody"]["content"]
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ReaderInput"}
        form = content["multipart/form-data"]
        assert form["schema"]["properties"]["document"] == {
            "type": "string",
            "format": "binary",
            "description": "The document",
        }
        assert form["schema"]["properties"]["input"]["$ref"] == (
            "#/components/schemas/ReaderInputFields"
        )
        assert form["encoding"] == {
            "input": {"contentType": "application/json"},
            "document": {"contentType": "application/pdf"},
        }
        fields = document["components"]["schemas"]["ReaderInputFields"]
        assert set(fields["properties"]) == {"note"}
        assert "document" not in fields.get("required", [])


async def test_agents_without_file_fields_keep_only_json(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    from tests.serving.conftest import live_agent

    await live_agent(api)
    document = (await api.get("/v1/agents/ticket-triage/openapi.json")).json()
    validate(document)
    content = document["paths"]["/v1/agents/ticket-triage"]["post"]["requestBody"]["content"]
    assert list(content) == ["application/json"]
