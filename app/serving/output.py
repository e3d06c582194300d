"""The structured-output pipeline: model text in, a schema-valid JSON object (or why not) out.

Pure and synchronous. Models wrap JSON in fences or prose, emit several objects, trail
commas, use single quotes, or stop mid-object; this module recovers the object when it can,
repairs it with `json-repair` when strict parsing fails, undoes the provider's strict-mode
transforms (`decode`) and validates. It never hands back a value that failed validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import json_repair

from app.compiler.checks import CheckResult
from app.core.errors import Issue
from app.core.jsontext import balanced_objects
from app.core.limits import unstorable_at

OutputStage = Literal["valid", "repaired", "unparseable", "schema_invalid", "check_failed"]

# Candidates are tried in order; a pathological reply full of braces must not make the
# hot path quadratic, so only the first few are considered.
MAX_CANDIDATES = 16

_NOT_JSON = object()
# A surrogate or NUL escaped in the JSON text, or one already in it: only then can a parsed
# string hold what no record or answer can carry, so only then are the strings walked.
_UNSTORABLE_HINT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]|\\u0000|\x00")

_FENCE = re.compile(r"```[ \t]*(?:[A-Za-z0-9_+-]+)?[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class OutputOutcome:
    """What became of one model reply.

    `stage` is "valid" (parsed as-is after extraction, schema-valid), "repaired" (needed
    json-repair, schema-valid), "unparseable" (no JSON object recovered), "schema_invalid"
    (an object was recovered but violates the schema) or "check_failed" (schema-valid, but it
    fails one of the spec's checks). `value` is set only when `ok`; an ok outcome's issues
    are the checks it failed that only warn.
    """

    stage: OutputStage
    value: dict[str, Any] | None
    issues: tuple[Issue, ...]
    extracted: str | None

    @property
    def ok(self) -> bool:
        """True when `value` holds a schema-valid object."""
        return self.stage in ("valid", "repaired")


@dataclass(frozen=True)
class _Parsed:
    text: str
    value: Any
    repaired: bool


def _identity(value: Any) -> Any:
    return value


def parse_output(
    text: str,
    validate: Callable[[Any], list[Issue]],
    decode: Callable[[Any], Any] = _identity,
) -> OutputOutcome:
    """Extract, parse (repairing if needed), decode and validate the JSON object in `text`.

    Among the objects found, the first that passes validation wins; objects parsed without
    repair are preferred to repaired ones. When none passes, the first recovered object is
    reported as "schema_invalid" with its validation issues.
    """
    stripped = text.strip()
    if not stripped:
        return _unparseable("the model returned no text", None)

    # Fast path: the whole reply is the JSON, as well-behaved models answer. One json.loads
    # and one validation; nothing else can be a better candidate than the whole reply.
    whole = _loads(stripped)
    if whole is not _NOT_JSON:
        if isinstance(whole, dict):
            return _check(_Parsed(stripped, whole, repaired=False), validate, decode)
        return _not_an_object(whole, stripped)

    found = _objects(stripped)
    if isinstance(found, OutputOutcome):
        return found
    strict, broken = found
    repaired = (_repaired(candidate) for candidate in broken)
    first_failure: OutputOutcome | None = None
    for parsed in [*strict, *repaired]:
        if parsed is None:
            continue
        outcome = _check(parsed, validate, decode)
        if outcome.ok:
            return outcome
        first_failure = first_failure or outcome
    if first_failure is not None:
        return first_failure
    if "{" not in stripped:
        return _unparseable("no JSON object found in the output", None)
    return _unparseable("could not recover a JSON object from the output", None)


def _objects(stripped: str) -> tuple[list[_Parsed], list[str]] | OutputOutcome:
    """The objects that parse as they are, and the candidates that need repair; or the
    outcome at once when the reply is one fenced non-object."""
    strict: list[_Parsed] = []
    broken: list[str] = []
    for candidate in _candidates(stripped):
        value = _loads(candidate)
        if value is _NOT_JSON:
            broken.append(candidate)
        elif isinstance(value, dict):
            strict.append(_Parsed(candidate, value, repaired=False))
        elif _is_fenced_whole(stripped, candidate):
            return _not_an_object(value, candidate)
    return strict, broken


def _repaired(candidate: str) -> _Parsed | None:
    value = _repair(candidate)
    return None if value is None else _Parsed(candidate, value, repaired=True)


def _check(
    parsed: _Parsed, validate: Callable[[Any], list[Issue]], decode: Callable[[Any], Any]
) -> OutputOutcome:
    try:
        decoded = decode(parsed.value)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # The model's object did not have the shape the strict-mode transform produces.
        issue = Issue("", f"could not decode the output: {exc}")
        return OutputOutcome("schema_invalid", None, (issue,), parsed.text)
    issues = validate(decoded)
    if issues:
        return OutputOutcome("schema_invalid", None, tuple(issues), parsed.text)
    if not isinstance(decoded, dict):
        issue = Issue("", f"the output must be a JSON object, not {_kind(decoded)}")
        return OutputOutcome("schema_invalid", None, (issue,), parsed.text)
    if _UNSTORABLE_HINT.search(parsed.text):
        found = unstorable_at(decoded)
        if found is not None:  # valid by the schema, but it could be neither stored nor sent
            return OutputOutcome("schema_invalid", None, (Issue(*found),), parsed.text)
    stage: OutputStage = "repaired" if parsed.repaired else "valid"
    return OutputOutcome(stage, decoded, (), parsed.text)


def judged(outcome: OutputOutcome, result: CheckResult, *, enforce: bool) -> OutputOutcome:
    """A schema-valid outcome after the spec's checks: refused ("check_failed", the failed
    checks as its issues) when a check that is an error fails, else kept with the failures
    that only warn as its issues. Without `enforce` every failure only warns."""
    if not outcome.ok or not (result.errors or result.warnings):
        return outcome
    if enforce and result.errors:
        return OutputOutcome("check_failed", None, result.errors, outcome.extracted)
    warnings = (*result.errors, *result.warnings)
    return OutputOutcome(outcome.stage, outcome.value, warnings, outcome.extracted)


def _candidates(text: str) -> Iterator[str]:
    """Texts that may hold the object, most likely first, without duplicates."""
    seen: set[str] = set()
    count = 0

    def fresh(candidate: str) -> bool:
        nonlocal count
        if not candidate or candidate in seen or count >= MAX_CANDIDATES:
            return False
        seen.add(candidate)
        count += 1
        return True

    if "```" in text:
        for match in _FENCE.finditer(text):
            body = match.group(1).strip()
            if fresh(body):
                yield body
    if "{" not in text:
        return
    for obj in balanced_objects(text):
        if fresh(obj):
            yield obj
    # A reply cut off mid-object never balances: hand the tail to the repairer.
    tail = text[text.index("{") :]
    if fresh(tail):
        yield tail


def _is_fenced_whole(text: str, candidate: str) -> bool:
    """True when the reply is nothing but one fence around `candidate`."""
    match = _FENCE.fullmatch(text)
    return match is not None and match.group(1).strip() == candidate


def _repair(candidate: str) -> dict[str, Any] | None:
    if "{" not in candidate:
        return None  # json-repair turns prose into "" or lists of words: never an object
    try:
        value = json_repair.loads(candidate)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _not_an_object(value: Any, extracted: str) -> OutputOutcome:
    # The reply *is* JSON, just not an object: digging inside an array for an object would
    # silently answer a different question.
    return _unparseable(f"the output must be a JSON object, not {_kind(value)}", extracted)


def _unparseable(message: str, extracted: str | None) -> OutputOutcome:
    return OutputOutcome("unparseable", None, (Issue("", message),), extracted)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__
