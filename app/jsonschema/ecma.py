"""Regular expressions as JSON Schema means them: ECMA-262, matched in linear time.

Python's `re` reads another dialect (`\\p{L}` is an error, `\\d` matches every Unicode digit,
`$` matches before a final newline) and backtracks, so `^(a+)+$` on 41 characters takes
seconds. jsonschema-rs translates ECMA-262 patterns to Rust's `regex` crate, which matches
in time linear in the text; it refuses what it cannot match that way (look-arounds,
back-references, huge repetitions), and such a pattern is refused when a spec is saved.

The jsonschema keywords that read patterns (`pattern`, `patternProperties`,
`additionalProperties`, `unevaluatedProperties`) are re-implemented here on top of
`search`, so the reference validator and the compiled fast path read a pattern the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import jsonschema_rs
from jsonschema._utils import extras_msg
from jsonschema.exceptions import ValidationError

# A compiled pattern may take this much memory; `(a{10000}){10000}` is refused, not built.
_SIZE_LIMIT = 2 * 1024 * 1024
OPTIONS = jsonschema_rs.RegexOptions(size_limit=_SIZE_LIMIT, dfa_size_limit=_SIZE_LIMIT)

Matcher = Callable[[str], bool]
# jsonschema's keyword functions get the validator instance; its protocol lacks `descend`.
Validator = Any


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Matcher | None:
    """A function telling whether `pattern` matches somewhere in a string, or None when the
    pattern is not an ECMA-262 expression that can be matched in linear time."""
    try:
        validator = jsonschema_rs.Draft202012Validator(
            {"type": "string", "pattern": pattern}, pattern_options=OPTIONS
        )
    except (ValueError, jsonschema_rs.ValidationError):
        return None
    is_valid: Matcher = validator.is_valid
    return is_valid


# Specs saved before patterns had to be linear may hold a look-around or a back-reference:
# those still run, on fancy-regex with a bound on backtracking (a pattern that hits it does
# not match), so no stored agent stops answering and none can hang.
_BOUNDED = jsonschema_rs.FancyRegexOptions(backtrack_limit=100_000, size_limit=_SIZE_LIMIT)


@lru_cache(maxsize=1024)
def _matcher(pattern: str) -> Matcher | None:
    linear = compile_pattern(pattern)
    if linear is not None:
        return linear
    try:
        validator = jsonschema_rs.Draft202012Validator(
            {"type": "string", "pattern": pattern}, pattern_options=_BOUNDED
        )
    except (ValueError, jsonschema_rs.ValidationError):
        return None

    def bounded(text: str) -> bool:
        try:
            return bool(validator.is_valid(text))
        except (ValueError, jsonschema_rs.ValidationError):  # the backtracking bound
            return False

    return bounded


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text` (False for one that does not compile)."""
    matcher = _matcher(pattern)
    return matcher is not None and matcher(text)


def is_regex(value: object) -> bool:
    """The `regex` format: a string that compiles as an ECMA-262 pattern."""
    return not isinstance(value, str) or _matcher(value) is not None


# What authoring says of a pattern `compile_pattern` refuses.
REFUSED = (
    "not a pattern Specloom can match in linear time: patterns are ECMA-262 regular "
    "expressions without look-arounds or back-references, with small repetition counts"
)

Errors = Iterator[ValidationError]


def pattern(validator: Validator, patrn: str, instance: Any, schema: Any) -> Errors:
    if validator.is_type(instance, "string") and not search(patrn, instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def pattern_properties(
    validator: Validator, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Errors:
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in patterns.items():
        for key, value in instance.items():
            if search(patrn, key):
                yield from validator.descend(value, subschema, path=key, schema_path=patrn)


def _additional(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        key
        for key in instance
        if key not in properties and not any(search(p, key) for p in patterns)
    ]


def additional_properties(validator: Validator, extra: Any, instance: Any, schema: Any) -> Errors:
    if not validator.is_type(instance, "object"):
        return
    extras = _additional(instance, schema)
    if validator.is_type(extra, "object"):
        for key in extras:
            yield from validator.descend(instance[key], extra, path=key)
    elif not extra and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            listed, was = extras_msg(sorted(extras, key=str))
            yield ValidationError(
                f"Additional properties are not allowed ({listed} {was} unexpected)"
            )


def unevaluated_properties(
    validator: Validator, unevaluated: Any, instance: Any, schema: Any
) -> Errors:
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    refused = [
        key
        for key in instance
        if key not in evaluated
        and any(True for _ in validator.descend(instance[key], unevaluated, path=key))
    ]
    if refused and unevaluated is False:
        listed, was = extras_msg(sorted(refused, key=str))
        yield ValidationError(f"Unevaluated properties are not allowed ({listed} {was} unexpected)")
    elif refused:
        listed, was = extras_msg(refused)
        yield ValidationError(
            "Unevaluated properties are not valid under the given schema "
            f"({listed} {was} unevaluated and invalid)"
        )


def _evaluated_keys(validator: Validator, instance: dict[str, Any], schema: Any) -> set[str]:
    """The keys some keyword of `schema` (or of the subschemas that apply) evaluates: the
    2020-12 rules, as jsonschema's own helper has them, with ECMA-262 patterns."""
    if not isinstance(schema, Mapping):
        return set()
    keys: set[str] = set()
    for ref_keyword in ("$ref", "$dynamicRef"):
        ref = schema.get(ref_keyword)
        if isinstance(ref, str):
            resolved = validator._resolver.lookup(ref)
            child = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
            keys |= _evaluated_keys(child, instance, resolved.contents)
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        keys |= properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if keyword in schema:
            sub = schema[keyword]
            keys |= {k for k, v in instance.items() if _passes(validator, v, sub)}
    for patrn in schema.get("patternProperties", {}):
        keys |= {k for k in instance if search(patrn, k)}
    for name, sub in (schema.get("dependentSchemas") or {}).items():
        if name in instance:
            keys |= _evaluated_keys(validator, instance, sub)
    keys |= _applied_keys(validator, instance, schema)
    return keys


def _applied_keys(
    validator: Validator, instance: dict[str, Any], schema: Mapping[str, Any]
) -> set[str]:
    """Keys evaluated by the in-place applicators that succeed (allOf/anyOf/oneOf, if/then/else)."""
    keys: set[str] = set()
    for keyword in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(keyword, []):
            if _passes(validator, instance, sub):
                keys |= _evaluated_keys(validator, instance, sub)
    if "if" in schema:
        if _passes(validator, instance, schema["if"]):
            keys |= _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys |= _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys |= _evaluated_keys(validator, instance, schema["else"])
    return keys


def _passes(validator: Validator, instance: Any, schema: Any) -> bool:
    # `descend`, not `evolve`: a subschema's own `$id` changes how its refs resolve.
    return next(iter(validator.descend(instance, schema)), None) is None
