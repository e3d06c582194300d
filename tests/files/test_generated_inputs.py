"""Generated test cases leave file fields out: their bytes cannot be made up."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from app.compiler.file_fields import without_file_fields

PDF = {"type": "string", "contentMediaType": "application/pdf", "contentEncoding": "base64"}
EITHER: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "pdf": PDF, "hint": {"type": "string"}},
    "required": ["hint"],
    "anyOf": [{"required": ["text"]}, {"required": ["pdf"]}],
}


def test_file_fields_and_the_branches_that_need_them_go() -> None:
    writable = without_file_fields(EITHER)
    assert set(writable["properties"]) == {"text", "hint"}
    assert writable["anyOf"] == [{"required": ["text"]}]
    assert "pdf" in EITHER["properties"]  # the spec's own schema is untouched
    Draft202012Validator(writable).validate({"hint": "h", "text": "t"})


def test_a_required_file_leaves_the_required_list() -> None:
    schema = {"type": "object", "properties": {"pdf": PDF, "n": {"type": "integer"}}}
    schema["required"] = ["pdf", "n"]
    assert without_file_fields(schema)["required"] == ["n"]


def test_a_schema_without_files_is_returned_as_is() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert without_file_fields(schema) is schema
