"""What is wrong with a document's checks, found when the spec is written.

Each check's `assert` must parse as CEL (the engine that runs it compiles it), type-check
against the schemas (`app.compiler.check_types`) and give a boolean; names are unique and
the rules a check names exist; `x-grounded` sits only on string schemas of the output, well
formed; and the examples, which every model reads as the answers to give, pass the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.compiler.check_types import CheckTypeError, type_check
from app.compiler.checks import SpecChecks, compile_expression
from app.compiler.document import Check, SpecDocument
from app.compiler.grounding import KEYWORD, is_string_schema, marker_problems
from app.core.errors import Issue, pointer
from app.jsonschema.walk import everywhere


def check_issues(document: SpecDocument, schemas_valid: bool) -> list[Issue]:
    """Every problem of the document's checks and grounding markers (pointers into it)."""
    issues = _names(document.checks) + _rules(document)
    compiled = True
    for i, check in enumerate(document.checks):
        problem = _expression_problem(check.assertion, document, schemas_valid)
        if problem is not None:
            compiled = compiled and not problem.startswith("not valid CEL")
            issues.append(Issue(pointer("checks", i, "assert"), problem))
    grounding = _grounding(document.output_schema)
    issues += grounding
    if not issues and schemas_valid and compiled:
        issues += _examples(document)
    return issues


def _expression_problem(expression: str, document: SpecDocument, schemas_valid: bool) -> str | None:
    try:
        compile_expression(expression)
    except (ValueError, RuntimeError) as exc:
        return f"not valid CEL: {_first_line(exc)}"
    if not schemas_valid:
        return None  # the schema issues come first; types are checked against valid ones
    try:
        result = type_check(expression, document.input_schema, document.output_schema)
    except CheckTypeError as exc:
        return str(exc)
    if result.kinds and "bool" not in result.kinds:
        return f"a check must give true or false, but this gives {sorted(result.kinds)[0]}"
    return None


def _first_line(exc: Exception) -> str:
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # The engine repeats the whole expression first: the pointer already says which one.
    marker = line.find("ERROR: <input>:")
    return line[marker + len("ERROR: <input>:") :].strip() if marker >= 0 else line


def _names(checks: list[Check]) -> list[Issue]:
    names = [c.name for c in checks]
    return [
        Issue(pointer("checks", i, "name"), f"duplicate check name {name!r}")
        for i, name in enumerate(names)
        if name in names[:i]
    ]


def _rules(document: SpecDocument) -> list[Issue]:
    issues: list[Issue] = []
    for i, check in enumerate(document.checks):
        for j, named in enumerate(check.rules):
            known = (
                1 <= named <= len(document.rules)
                if isinstance(named, int)
                else named in document.rules
            )
            if not known:
                issues.append(Issue(pointer("checks", i, "rules", j), "not one of the rules"))
    return issues


def _grounding(schema: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    for path, node in everywhere(schema):
        if not isinstance(node, Mapping) or KEYWORD not in node:
            continue
        where = pointer("output_schema", *path, KEYWORD)
        problem = marker_problems(node[KEYWORD])
        if problem is None and node[KEYWORD] is not False and not is_string_schema(node):
            problem = "x-grounded applies to string schemas only"
        if problem is not None:
            issues.append(Issue(where, problem))
    return issues


def _examples(document: SpecDocument) -> list[Issue]:
    """An example whose output breaks a check teaches every model the wrong answer."""
    checks = SpecChecks(document.checks, document.output_schema)
    if not checks:
        return []
    issues: list[Issue] = []
    for i, example in enumerate(document.examples):
        result = checks.judge(example.input, example.input, example.output)
        for failure in result.errors:
            where = pointer("examples", i, "output") + failure.pointer
            issues.append(
                Issue(where, f"fails check {failure.check!r}: {failure.message}", failure.check)
            )
    return issues
