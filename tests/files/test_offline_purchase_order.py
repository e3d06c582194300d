"""The example agent on the offline model: `curl -F document_pdf=@po.pdf` gives typed JSON
with the values printed in the PDF."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import yaml

from app.jsonschema import engine
from tests.files.samples import make_pdf

SPEC = Path(__file__).resolve().parents[2] / "specs" / "purchase-order-extraction.yaml"


async def test_offline_agent_extracts_values_from_a_pdf_upload(client: httpx.AsyncClient) -> None:
    document = yaml.safe_load(SPEC.read_text())
    created = await client.post("/api/specs", json={"document": document})
    assert created.status_code == 201, created.text
    published = await client.post(
        "/api/specs/purchase-order-extraction/publish",
        json={"version": 1, "force": True, "reason": "test"},
    )
    assert published.status_code == 200, published.text

    response = await client.post(
        "/v1/agents/purchase-order-extraction",
        files={
            "document_pdf": ("po.pdf", make_pdf(), "application/pdf"),
            "input": (None, json.dumps({"buyer_hint": "Cedar Valley Dental Group"})),
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-specloom-offline"] == "true"
    output = response.json()
    assert engine.validator(document["output_schema"]).is_valid(output)
    assert output["po_number"] == "4500018342"
    assert output["order_date"] == "2024-01-15"
    assert output["delivery_date"] == "2024-01-29"
    assert output["buyer"]["name"] == "Cedar Valley Dental Group"
    assert output["supplier"]["name"] == "Pacific Medical Supply, Inc."
    assert output["currency"] == "USD"
    assert output["payment_terms"] == "Net 30"
    assert (output["subtotal"], output["tax"], output["shipping"], output["total"]) == (
        782.5,
        67.49,
        25.0,
        874.99,
    )

    as_text = await client.post(
        "/v1/agents/purchase-order-extraction",
        json={"document_text": "PO Number: 123\nsome order"},
    )
    assert as_text.status_code == 200, as_text.text  # the JSON-text input still works
    neither = await client.post("/v1/agents/purchase-order-extraction", json={"buyer_hint": "X"})
    assert neither.status_code == 422
