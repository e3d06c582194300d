"""The offline model's reading of labelled values: table-driven."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from app.jsonschema.generate import generator_for
from app.providers.offline_extract import extract

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "po_number": {"type": "string", "maxLength": 12},
        "order_date": {"type": "string", "format": "date"},
        "total": {"type": "number", "minimum": 0},
        "quantity": {"type": "integer"},
        "buyer": {"type": "object", "properties": {"name": {"type": "string"}}},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    },
}


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expected: dict[str, Any]


CASES = [
    Case(
        "colon labels", "PO Number: A-1\nTotal: 1,249.50", {"/po_number": "A-1", "/total": 1249.5}
    ),
    Case("european amount", "Total:  1.249,00 €", {"/total": 1249.0}),
    Case("table layout", "TOTAL (USD)      874.99", {"/total": 874.99}),
    Case("us date", "Order Date: 01/15/2024", {"/order_date": "2024-01-15"}),
    Case("german date", "Order date: 03.04.2024", {"/order_date": "2024-04-03"}),
    Case("nested name", "Buyer: Acme Ltd", {"/buyer/name": "Acme Ltd"}),
    Case("integer", "Quantity: 24", {"/quantity": 24}),
    Case("invalid values are left out", "Currency: dollars\nPO Number: " + "9" * 20, {}),
    Case("first value wins", "Total: 10\nTotal: 20", {"/total": 10.0}),
    Case("unlabelled text gives nothing", "Thanks for your order of gloves.", {}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_extract(case: Case) -> None:
    assert extract([case.text], SCHEMA, generator_for(SCHEMA)) == case.expected
