"""The spec document: what a spec file, the management API and the web form all exchange.

Shape is checked by pydantic; meaning (valid JSON Schema, object roots, examples that
follow their schemas, size bounds) by `check_document`, which reports every problem with a
JSON Pointer into the document so a caller can fix them all in one go.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from jsonschema.protocols import Validator
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.compiler.assertion_paths import assertion_issues
from app.core.errors import Issue, pointer
from app.core.fastjson import canonical_json
from app.core.setting_groups import DocumentLimits
from app.core.stats import repeats_needed, wilson_lower
from app.jsonschema import engine
from app.jsonschema.authoring import schema_problems

NAME_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"

JsonObject = dict[str, Any]


class DocumentModel(BaseModel):
    """Base of every part of the document: unknown keys are mistakes, not extensions, and
    values are the documented types (`exists: 0` is not `false`)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# The model name that lets evidence choose: the version's latest finished model matrix.
AUTO_MODEL = "auto"


class ModelChoice(DocumentModel):
    """Which model serves the spec: an alias from the models file, a litellm model string,
    or `auto` (the cheapest model that passed the suite in the version's model matrix)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    fallbacks: list[str] = Field(
        default_factory=list, max_length=10, description="Used when a model is unavailable."
    )
    escalation: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="Stronger models, used only when the output stays invalid after re-asks.",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    timeout_s: float | None = Field(
        default=None, gt=0, le=600, description="Deadline of a whole call, all attempts included."
    )
    # The response cache: unset caches at temperature 0 only, where a repeated call is meant
    # to give the same answer; true/false force it either way.
    cache: bool | None = Field(default=None, description="Cache outputs; unset: at temperature 0.")
    cache_ttl_s: float | None = Field(default=None, gt=0, le=31_536_000)  # at most a year
    hedge: bool | None = Field(
        default=None,
        description="Ask the next model in parallel when one is slower than its recent p95 "
        "(the first valid answer wins); unset: the server's SPECLOOM_HEDGE.",
    )

    @property
    def auto(self) -> bool:
        """Whether a model matrix chooses the model."""
        return self.name == AUTO_MODEL


class Example(DocumentModel):
    """A few-shot pair: an input and the output the agent should give for it."""

    input: JsonObject
    output: JsonObject


class Assertion(DocumentModel):
    """One check on a field of the output, addressed by JSON Pointer."""

    path: str = Field(default="", max_length=500)
    equals: Any = None
    one_of: list[Any] | None = None
    matches: str | None = None
    contains: Any = None
    min: float | None = None
    max: float | None = None
    tolerance: float | None = Field(default=None, ge=0)
    length: int | None = Field(default=None, ge=0)
    exists: bool | None = None
    judge: str | None = None


# How a case's min_pass_rate is judged over its repeats: the observed pass rate, or the
# lower bound of its 95% Wilson interval (so a few lucky runs cannot pass a flaky case).
Gate = Literal["rate", "wilson"]


def check_gate(gate: Gate, min_pass_rate: float, repeat: int) -> None:
    """A case judged on its Wilson lower bound must be able to pass: the bound never
    reaches 1, and with few repeats it stays low even when every run passes."""
    if gate != "wilson":
        return
    if min_pass_rate >= 1:
        raise ValueError(
            "with gate 'wilson', min_pass_rate must be below 1: the lower bound of a "
            "finite sample never reaches 1, so the case could never pass"
        )
    best = wilson_lower(repeat, repeat)
    if best + 1e-9 < min_pass_rate:
        needed = repeats_needed(min_pass_rate)
        raise ValueError(
            f"with gate 'wilson' and {repeat} repeat(s) the lower bound is at most "
            f"{best:.2f} even when every run passes, below min_pass_rate {min_pass_rate:g}: "
            f"use repeat: {needed} or more, or a lower min_pass_rate"
        )


class SpecTest(DocumentModel):
    """A test case as written in a spec file."""

    name: str = Field(min_length=1, max_length=200)
    input: JsonObject
    expect: list[Assertion] = Field(default_factory=list)
    repeat: int = Field(default=1, ge=1, le=100)
    min_pass_rate: float = Field(default=1.0, ge=0, le=1)
    gate: Gate = "rate"
    rules: list[int | str] = Field(
        default_factory=list,
        max_length=100,
        description="The rules it exercises: numbers (1 is the first rule) or texts.",
    )

    @model_validator(mode="after")
    def _gate(self) -> SpecTest:
        check_gate(self.gate, self.min_pass_rate, self.repeat)
        return self

    def rule_texts(self, rules: list[str]) -> list[str]:
        """The texts of the rules it names (numbers resolved against `rules`)."""
        texts = [rules[r - 1] if isinstance(r, int) else r for r in self.rules]
        return list(dict.fromkeys(texts))


# error: a failing output is re-asked and never returned; warn: it is returned, the failure
# recorded and named in a response header.
Severity = Literal["error", "warn"]


class Check(DocumentModel):
    """An invariant every output must hold beyond its schema: a CEL expression over `input`
    and `output` that must be true (`assert` in the document)."""

    # `assert` is a Python keyword: the field is `assertion`, written and read as `assert`.
    model_config = ConfigDict(
        extra="forbid", strict=True, validate_by_name=False, serialize_by_alias=True
    )

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    assertion: str = Field(alias="assert", min_length=1, max_length=2000)
    message: str = Field(min_length=1, max_length=500)
    severity: Severity = "error"
    rules: list[int | str] = Field(
        default_factory=list,
        max_length=100,
        description="The rules it enforces: numbers (1 is the first rule) or texts.",
    )


class SpecDocument(DocumentModel):
    """The whole spec: behaviour (rules, examples, model) and contract (the two schemas)."""

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    input_schema: JsonObject
    rules: list[str] = Field(default_factory=list)
    output_schema: JsonObject
    examples: list[Example] = Field(default_factory=list, max_length=50)
    # Invariants beyond the schema, next to the examples they hold for.
    checks: list[Check] = Field(default_factory=list, max_length=100)
    model: ModelChoice | None = None
    tests: list[SpecTest] = Field(default_factory=list, max_length=500)
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Days this agent's execution records are kept (default: the server's "
        "SPECLOOM_EXECUTION_RETENTION_DAYS); usage figures outlive them.",
    )
    raw_text_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="Days the model's raw text in this agent's records is kept (default: the "
        "server's SPECLOOM_EXECUTION_RAW_TEXT_RETENTION_DAYS, else as long as the record).",
    )

    def canonical(self) -> JsonObject:
        """The document as plain JSON with exactly the fields its author wrote.

        Unset fields are left out rather than filled with defaults, so an explicit
        `equals: null` survives (it asserts that a field is null) and a stored document
        reads back as written.
        """
        return self.model_dump(mode="json", exclude_unset=True, by_alias=True)


class InvalidDocument(Exception):
    """The document does not describe a valid spec; `issues` says every reason."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.pointer or '/'}: {i.message}" for i in issues))
        self.issues = issues


def content_hash(document: SpecDocument) -> str:
    """SHA-256 of the canonical document: equal documents always hash equal."""
    return hashlib.sha256(canonical_json(document.canonical()).encode()).hexdigest()


def behaviour_hash(document: JsonObject) -> str:
    """SHA-256 of a stored document without its model section: what a model matrix
    measured (prompt, schemas, examples), shared by versions that differ only in model."""
    rest = {key: value for key, value in document.items() if key != "model"}
    return hashlib.sha256(canonical_json(rest).encode()).hexdigest()


def parse_document(data: Any, limits: DocumentLimits | None = None) -> SpecDocument:
    """Validate raw JSON into a `SpecDocument`, or raise `InvalidDocument` with every issue."""
    limits = limits or DocumentLimits()
    size = len(canonical_json(data).encode()) if isinstance(data, dict) else 0
    if size > limits.max_bytes:
        raise InvalidDocument(
            [Issue("", f"document is {size} bytes; the limit is {limits.max_bytes}")]
        )
    try:
        document = SpecDocument.model_validate(data)
    except ValidationError as exc:
        raise InvalidDocument(
            [Issue(pointer(*err["loc"]), err["msg"]) for err in exc.errors()]
        ) from None
    issues = check_document(document, limits)
    if issues:
        raise InvalidDocument(issues)
    return document


def check_document(document: SpecDocument, limits: DocumentLimits) -> list[Issue]:
    """Every semantic problem of a structurally valid document."""
    issues, validators = _check_schemas(document, limits)
    issues += _check_rules(document.rules, limits)
    issues += _check_values(document, validators)
    issues += _check_test_rules(document)
    issues += _check_test_names(document.tests)
    issues += _check_test_assertions(document, validators)
    # Imported here: the checks' compiler reads this module's `Check` model.
    from app.compiler.check_issues import check_issues

    schemas_valid = {"input_schema", "output_schema"} <= validators.keys()
    issues += check_issues(document, schemas_valid)
    return issues


def _check_schemas(
    document: SpecDocument, limits: DocumentLimits
) -> tuple[list[Issue], dict[str, Validator]]:
    """The problems of both schemas, and a validator for each schema that has none."""
    issues: list[Issue] = []
    validators: dict[str, Validator] = {}
    for field in ("input_schema", "output_schema"):
        schema = getattr(document, field)
        schema_issues = _check_schema(field, schema, limits)
        issues.extend(schema_issues)
        if not schema_issues:
            validators[field] = engine.validator(schema)
    return issues, validators


def _check_rules(rules: list[str], limits: DocumentLimits) -> list[Issue]:
    """How many rules there are, and that each is neither empty nor too long."""
    issues: list[Issue] = []
    if len(rules) > limits.max_rules:
        issues.append(Issue("/rules", f"at most {limits.max_rules} rules, got {len(rules)}"))
    for i, rule in enumerate(rules):
        if not rule.strip():
            issues.append(Issue(pointer("rules", i), "a rule must not be empty"))
        elif len(rule) > limits.max_rule_chars:
            issues.append(
                Issue(pointer("rules", i), f"a rule has at most {limits.max_rule_chars} characters")
            )
    return issues


def _check_values(document: SpecDocument, validators: dict[str, Validator]) -> list[Issue]:
    """Examples and test inputs that do not follow their (valid) schema."""
    pairs: list[tuple[tuple[str | int, ...], JsonObject, str]] = []
    for i, example in enumerate(document.examples):
        pairs.append((("examples", i, "input"), example.input, "input_schema"))
        pairs.append((("examples", i, "output"), example.output, "output_schema"))
    for i, test in enumerate(document.tests):
        pairs.append((("tests", i, "input"), test.input, "input_schema"))
    issues: list[Issue] = []
    for location, value, schema_field in pairs:
        validator = validators.get(schema_field)
        if validator is None:
            continue
        issues.extend(
            Issue(
                pointer(*location) + issue.pointer,
                f"does not follow {schema_field}: {issue.message}",
            )
            for issue in engine.issues(validator, value)
        )
    return issues


def _check_test_rules(document: SpecDocument) -> list[Issue]:
    """Tests naming a rule (by number, from 1, or by text) the document does not have."""
    issues: list[Issue] = []
    for i, test in enumerate(document.tests):
        for j, named in enumerate(test.rules):
            if isinstance(named, int):
                known = 1 <= named <= len(document.rules)
            else:
                known = named in document.rules
            if not known:
                issues.append(Issue(pointer("tests", i, "rules", j), "not one of the rules"))
    return issues


def _check_test_assertions(document: SpecDocument, validators: dict[str, Validator]) -> list[Issue]:
    """Tests asserting on a path no valid output has, or on a value it can never hold."""
    validator = validators.get("output_schema")
    if validator is None:
        return []
    return [
        Issue(pointer("tests", i, "expect") + issue.pointer, issue.message)
        for i, test in enumerate(document.tests)
        for issue in assertion_issues(validator, test.expect)
    ]


def _check_test_names(tests: list[SpecTest]) -> list[Issue]:
    """Test names used more than once (each repeat is reported)."""
    names = [t.name for t in tests]
    return [
        Issue(pointer("tests", i, "name"), f"duplicate test name {name!r}")
        for i, name in enumerate(names)
        if name in names[:i]
    ]


def _check_schema(field: str, schema: JsonObject, limits: DocumentLimits) -> list[Issue]:
    problems = schema_problems(schema)
    if problems:
        return [Issue(pointer(field, *path), message) for path, message in problems]
    issues: list[Issue] = []
    if schema.get("type") != "object":
        issues.append(
            Issue(pointer(field, "type"), 'the root of the schema must be "type": "object"')
        )
    depth = _depth(schema)
    if depth > limits.max_schema_depth:
        issues.append(
            Issue(
                pointer(field),
                f"nested {depth} levels deep; the limit is {limits.max_schema_depth}",
            )
        )
    return issues


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0
