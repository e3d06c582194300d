"""Fixtures for the compiler tests: documents built in memory, no database."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from app.compiler import CompiledSpec, compile_spec
from app.compiler.document import SpecDocument, content_hash, parse_document

TRIAGE: dict[str, Any] = {
    "name": "ticket-triage",
    "title": "Support ticket triage",
    "description": "Classify an incoming support ticket and route it to a team.",
    "input_schema": {
        "type": "object",
        "properties": {
            "subject": {"type": "string", "maxLength": 200},
            "body": {"type": "string"},
            "customer": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "plan": {"enum": ["free", "pro", "enterprise"]},
                },
                "required": ["email"],
            },
        },
        "required": ["subject", "body"],
    },
    "rules": [
        "Billing questions go to the billing team.",
        "Anything mentioning a data breach is priority urgent.",
        "Write the summary in English, whatever the language of the ticket.",
    ],
    "output_schema": {
        "type": "object",
        "properties": {
            "team": {"enum": ["billing", "technical", "sales", "security"]},
            "priority": {"enum": ["low", "normal", "high", "urgent"]},
            "summary": {"type": "string", "description": "One sentence."},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        },
        "required": ["team", "priority", "summary"],
        "additionalProperties": False,
    },
    "examples": [
        {
            "input": {"subject": "Refund", "body": "I was charged twice"},
            "output": {
                "team": "billing",
                "priority": "normal",
                "summary": "Double charge, wants refund",
            },
        }
    ],
}


NO_EXTRA: dict[str, Any] = {"additionalProperties": False}


def obj(properties: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    """An object schema that forbids extra keys unless `extra` says otherwise."""
    return {"type": "object", "properties": properties, "required": required, **NO_EXTRA, **extra}


def nested_objects(levels: int) -> dict[str, Any]:
    """Objects nested `levels` deep, the innermost holding one string."""
    schema: dict[str, Any] = obj({"leaf": {"type": "string"}}, ["leaf"])
    for _ in range(levels - 1):
        schema = obj({"next": schema}, ["next"])
    return schema


DocumentFactory = Callable[..., SpecDocument]
CompileFactory = Callable[..., CompiledSpec]


@pytest.fixture
def make_document() -> DocumentFactory:
    """Build a checked document from the triage spec with top-level fields overridden."""

    def make(**overrides: Any) -> SpecDocument:
        data = copy.deepcopy(TRIAGE)
        data.update(overrides)
        return parse_document(data)

    return make


@pytest.fixture
def make_compiled(make_document: DocumentFactory) -> CompileFactory:
    """Compile a triage-based document under its real content hash."""

    def make(**overrides: Any) -> CompiledSpec:
        document = make_document(**overrides)
        return compile_spec(document, content_hash(document))

    return make
