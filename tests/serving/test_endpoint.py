"""The typed endpoint: lookup of the serving version, input validation, pinning, rollout."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_spec_validator import validate

from tests.factories import make_document
from tests.fakes.upstream import FakeUpstream, Valid
from tests.serving.conftest import execution, live_agent

INPUT = {"subject": "Refund please", "body": "I was charged twice this month."}
PROBLEM = "application/problem+json"


async def test_unknown_agent_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/agents/no-such-agent", json=INPUT)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "no agent named 'no-such-agent'" in response.json()["detail"]


async def test_agent_without_live_version_is_404_with_a_clear_detail(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await api.post("/api/specs", json={"document": make_document()})
    response = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert response.status_code == 404
    assert "no live version" in response.json()["detail"]
    assert upstream.calls() == 0
    pinned = await api.post("/v1/agents/ticket-triage?version=1", json=INPUT)
    assert pinned.status_code == 200
    missing = await api.post("/v1/agents/ticket-triage?version=3", json=INPUT)
    assert missing.status_code == 404
    assert "no version 3" in missing.json()["detail"]


async def test_invalid_input_is_422_with_pointers_and_recorded(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api)
    response = await api.post("/v1/agents/ticket-triage", json={"subject": 12, "extra": True})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    errors = {e["pointer"]: e["message"] for e in response.json()["errors"]}
    assert "/subject" in errors
    assert any("body" in m for m in errors.values())
    assert upstream.calls() == 0
    record = await execution(api, response)
    assert record["status"] == "failed"
    assert record["error"]["status"] == 422
    assert record["attempts"] == []


async def test_non_object_and_malformed_bodies(api: httpx.AsyncClient) -> None:
    await live_agent(api)
    array = await api.post("/v1/agents/ticket-triage", json=[1, 2])
    assert array.status_code == 422
    assert array.json()["errors"][0]["pointer"] == ""
    broken = await api.post(
        "/v1/agents/ticket-triage",
        content=b'{"subject": ',
        headers={"content-type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.headers["content-type"] == PROBLEM


def _summary_props(document: dict[str, Any]) -> set[str]:
    return set(document["components"]["schemas"]["TicketTriageOutput"]["properties"])


async def test_publish_and_rollback_change_behaviour_and_openapi_at_once(
    api: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    await live_agent(api)
    v2_output = make_document()["output_schema"]
    v2_output["properties"]["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    v2_output["required"] = [*v2_output["required"], "confidence"]
    created = await api.post(
        "/api/specs/ticket-triage/versions",
        json={
            "document": make_document(output_schema=v2_output, examples=[]),
            "base_version": 1,
        },
    )
    assert created.status_code == 201, created.text
    assert "confidence" not in _summary_props((await api.get("/openapi.json")).json())

    await api.post("/api/specs/ticket-triage/publish", json={"version": 2})
    upstream.script(Valid())
    served = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert served.headers["x-specloom-version"] == "2"
    assert "confidence" in served.json()
    assert "confidence" in _summary_props((await api.get("/openapi.json")).json())

    await api.post("/api/specs/ticket-triage/rollback", json={"reason": "regression"})
    served = await api.post("/v1/agents/ticket-triage", json=INPUT)
    assert served.headers["x-specloom-version"] == "1"
    assert "confidence" not in served.json()
    assert "confidence" not in _summary_props((await api.get("/openapi.json")).json())


async def test_openapi_documents_validate_and_name_the_operation(api: httpx.AsyncClient) -> None:
    await live_agent(api)
    document = (await api.get("/openapi.json")).json()
    validate(document)
    operation = document["paths"]["/v1/agents/ticket-triage"]["post"]
    assert operation["operationId"] == "invoke_ticket_triage"
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketTriageInput"
    }
    assert "application/problem+json" in operation["responses"]["422"]["content"]
    assert document["components"]["schemas"]["TicketTriageInput"]["required"] == ["subject", "body"]
    assert "/v1/agents/{name}" not in document["paths"]

    download = await api.get("/v1/agents/ticket-triage/openapi.json")
    assert download.status_code == 200
    assert (
        download.headers["content-disposition"]
        == 'attachment; filename="ticket-triage.openapi.json"'
    )
    standalone = download.json()
    validate(standalone)
    assert list(standalone["paths"]) == ["/v1/agents/ticket-triage"]
    assert standalone["servers"] == [{"url": "http://test"}]
    rules = make_document()["rules"]
    assert not any(rule in download.text for rule in rules)  # the contract, not the prompt


async def test_docs_page_is_served_without_a_cdn(api: httpx.AsyncClient) -> None:
    page = await api.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    asset = await api.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200


async def test_compiled_artifact_is_visible(api: httpx.AsyncClient) -> None:
    await live_agent(api)
    compiled = (await api.get("/api/specs/ticket-triage/versions/1/compiled")).json()
    system = compiled["messages"][0]["content"]
    assert "Billing questions go to the billing team." in system
    assert compiled["response_format"]["type"] == "json_schema"
    assert (
        compiled["content_hash"]
        == (await api.get("/api/specs/ticket-triage/versions/1")).json()["content_hash"]
    )
