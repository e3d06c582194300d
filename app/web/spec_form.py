"""The spec editor's form: a document shown as fields, fields read back into a document, and
the registry's JSON Pointer issues placed next to the field they concern."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import Issue
from app.web.fields import Section, rows_from_form, rows_from_schema, schema_from_rows

_DOCUMENT_KEYS = ("name", "title", "description", "input_schema", "rules", "output_schema")


@dataclass
class SpecForm:
    """Everything the editor shows, exactly as typed (so a refused save loses nothing)."""

    name: str = ""
    title: str = ""
    description: str = ""
    input: Section = field(default_factory=Section)
    output: Section = field(default_factory=Section)
    rules: list[str] = field(default_factory=list)
    examples: str = "[]"
    checks: str = "[]"
    model_name: str = ""
    fallbacks: list[str] = field(default_factory=list)
    temperature: str = ""
    model_extra: str = ""
    document_extra: str = ""
    message: str = ""
    base_version: int = 0


@dataclass
class FormErrors:
    """Messages by place: "title", "input", "input:3" (row 3), "rule:2", "examples"…"""

    at: dict[str, list[str]] = field(default_factory=dict)

    def add(self, place: str, message: str) -> None:
        self.at.setdefault(place, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.at)


def section_from_schema(schema: dict[str, Any]) -> Section:
    """A schema as the editor's section, in the fields tab."""
    rows, root_extra = rows_from_schema(schema)
    return Section(
        mode="fields", rows=rows, raw=json.dumps(schema, indent=2), root_extra=root_extra
    )


def empty_form() -> SpecForm:
    """The form of a new agent: one input and one output field to start from."""
    form = SpecForm(message="Initial version", rules=[""])
    form.input = section_from_schema(
        {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    )
    form.output = section_from_schema(
        {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        }
    )
    return form


def form_from_document(document: dict[str, Any], base_version: int) -> SpecForm:
    """A stored version's document in the editor."""
    model = dict(document.get("model") or {})
    shown = (*_DOCUMENT_KEYS, "examples", "checks", "model")
    extra = {k: v for k, v in document.items() if k not in shown}
    temperature = model.pop("temperature", None)
    return SpecForm(
        name=document["name"],
        title=document.get("title", ""),
        description=document.get("description", ""),
        input=section_from_schema(document.get("input_schema", {})),
        output=section_from_schema(document.get("output_schema", {})),
        rules=list(document.get("rules") or []) or [""],
        examples=json.dumps(document.get("examples") or [], indent=2),
        checks=json.dumps(document.get("checks") or [], indent=2, ensure_ascii=False),
        model_name=model.pop("name", None) or "",
        fallbacks=list(model.pop("fallbacks", None) or []),
        temperature="" if temperature is None else str(temperature),
        model_extra=json.dumps(model) if model else "",
        document_extra=json.dumps(extra) if extra else "",
        base_version=base_version,
    )


def section_from_form(form: dict[str, str], name: str) -> Section:
    """One schema section as posted."""
    return Section(
        mode="json" if form.get(f"{name}_mode") == "json" else "fields",
        rows=rows_from_form(form, name),
        raw=form.get(f"{name}_raw", ""),
        root_extra=form.get(f"{name}_root_extra", ""),
    )


def form_from_post(form: dict[str, str], rules: list[str], fallbacks: list[str]) -> SpecForm:
    """The editor's fields as posted (multi-valued fields passed separately)."""
    try:
        base_version = int(form.get("base_version", "0"))
    except ValueError:
        base_version = 0
    return SpecForm(
        name=form.get("name", "").strip(),
        title=form.get("title", ""),
        description=form.get("description", ""),
        input=section_from_form(form, "input"),
        output=section_from_form(form, "output"),
        rules=rules or [""],
        examples=form.get("examples", "[]"),
        checks=form.get("checks", "[]"),
        model_name=form.get("model_name", ""),
        fallbacks=fallbacks,
        temperature=form.get("temperature", ""),
        model_extra=form.get("model_extra", ""),
        document_extra=form.get("document_extra", ""),
        message=form.get("message", ""),
        base_version=base_version,
    )


def section_schema(section: Section, name: str, errors: FormErrors) -> dict[str, Any]:
    """The schema a section holds (from the tab being edited); problems go to `errors`."""
    if section.mode == "json":
        try:
            schema = json.loads(section.raw or "{}")
        except ValueError as exc:
            errors.add(name, f"the raw JSON Schema is not valid JSON: {exc}")
            return {}
        if not isinstance(schema, dict):
            errors.add(name, "the raw JSON Schema must be an object")
            return {}
        return schema
    schema, issues = schema_from_rows(section.rows, section.root_extra)
    for issue in issues:
        errors.add(name if issue.index < 0 else f"{name}:{issue.index}", issue.message)
    return schema


def _json_field(text: str, place: str, errors: FormErrors, kind: type) -> Any:
    if not text.strip():
        return kind()
    try:
        value = json.loads(text)
    except ValueError as exc:
        errors.add(place, f"not valid JSON: {exc}")
        return kind()
    if not isinstance(value, kind):
        errors.add(place, f"must be a JSON {'list' if kind is list else 'object'}")
        return kind()
    return value


def document_from_form(form: SpecForm, errors: FormErrors) -> dict[str, Any]:
    """The spec document the form describes; what cannot be read goes to `errors`."""
    document: dict[str, Any] = _json_field(form.document_extra, "general", errors, dict)
    document.update(
        {
            "name": form.name,
            "title": form.title.strip(),
            "description": form.description.strip(),
            "input_schema": section_schema(form.input, "input", errors),
            "rules": [r.strip() for r in form.rules if r.strip()],
            "output_schema": section_schema(form.output, "output", errors),
            "examples": _json_field(form.examples, "examples", errors, list),
        }
    )
    checks = _json_field(form.checks, "checks", errors, list)
    if checks:  # absent rather than empty: an unchanged spec keeps its content hash
        document["checks"] = checks
    model: dict[str, Any] = _json_field(form.model_extra, "model", errors, dict)
    if form.model_name:
        model["name"] = form.model_name
    if form.fallbacks:
        model["fallbacks"] = form.fallbacks
    if form.temperature.strip():
        try:
            model["temperature"] = float(form.temperature)
        except ValueError:
            errors.add("model", f"temperature must be a number, got {form.temperature!r}")
    if model:
        document["model"] = model
    return document


def place_issues(issues: list[Issue], form: SpecForm, errors: FormErrors) -> None:
    """Put each registry issue (pointers into the document) next to its field."""
    kept_rules = [i for i, r in enumerate(form.rules) if r.strip()]
    for issue in issues:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in issue.pointer.split("/")[1:]]
        errors.add(_place(parts, form, kept_rules), _describe(parts, issue.message))


def _describe(parts: list[str], message: str) -> str:
    return f"{'/'.join(parts[2:])}: {message}" if len(parts) > 3 else message


def _place(parts: list[str], form: SpecForm, kept_rules: list[int]) -> str:
    head = parts[0] if parts else ""
    if head in ("name", "title", "description", "examples", "checks", "model"):
        return head
    if head in ("input_schema", "output_schema"):
        section = "input" if head == "input_schema" else "output"
        chosen: Section = getattr(form, section)
        if chosen.mode == "fields" and len(parts) >= 3 and parts[1] == "properties":
            for index, row in enumerate(chosen.rows):
                if row.name.strip() == parts[2]:
                    return f"{section}:{index}"
        return section
    if head == "rules":
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(kept_rules):
            return f"rule:{kept_rules[int(parts[1])]}"
        return "rules"
    return "general"
