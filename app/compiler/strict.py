"""The output schema in the form strict structured-output modes accept, or why it cannot be.

Strict mode (OpenAI's `"strict": true`) accepts a subset of JSON Schema: every object lists
all its properties in `required` and has `"additionalProperties": false`; optional values are
spelled as required-but-nullable. The transform must not change what the contract allows, so
a schema is strict only when, for the strict form S' of the original S and the decoder D:

* every document x valid under S has an encoding E(x) (missing optional properties set to
  null) that is valid under S', and D(E(x)) == x;
* for every y valid under S', D(y) is valid under S.

Everything the transform cannot carry over exactly becomes a note, one per location, and the
spec is then served with its original schema and `strict: false`. The rules below are what
makes the claim hold; tests/compiler/test_strict_roundtrip.py checks it with generated
documents. In particular:

* `additionalProperties` absent or true allows extra keys; strict mode forbids them, so that is
  a note (the author adds `"additionalProperties": false`), never a silent narrowing.
* an optional property whose schema already accepts null is a note: absent and null would
  both come back as null and the decoder could not tell them apart.
* `anyOf`, `enum` and `const` judge the whole value at their location; if that value can carry
  nulls introduced for optional properties, they would judge a different document, so that is
  a note too. Under the remaining `anyOf`s nothing needs decoding.
* `$ref` may point to `#`, `#/$defs/NAME` or `#/definitions/NAME` only: other pointers could
  land on a property the transform wrapped in a nullable `anyOf`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from app.compiler.decode import IDENTITY, Decoder, RefDecoder, ShapeDecoder
from app.compiler.keywords import (
    KEPT,
    MAX_ENUM_VALUES,
    MAX_NESTING,
    MAX_PROPERTIES,
    STRICT_FORMATS,
    UNSUPPORTED,
)
from app.core.errors import pointer
from app.jsonschema import engine
from app.jsonschema.refs import lookup, ref_of

_WHOLE_VALUE = ("anyOf", "enum", "const")
_OBJECT_KEYWORDS = ("properties", "required", "additionalProperties")
_SCALARS = frozenset({"string", "number", "integer", "boolean", "null"})
_DEFS = ("$defs", "definitions")


@dataclass(frozen=True)
class StrictForm:
    """The strict form of a schema, its decoder, and why it cannot be used (if it cannot)."""

    schema: dict[str, Any]
    notes: tuple[str, ...]
    decoder: Decoder

    @property
    def strict(self) -> bool:
        """True when the strict form accepts exactly the original's documents (after decode)."""
        return not self.notes


def make_strict(schema: dict[str, Any]) -> StrictForm:
    """Transform an output schema for strict mode; the notes say why it is impossible."""
    transformer = _Transformer(schema)
    strict_schema, decoder = transformer.run()
    notes = tuple(transformer.notes)
    # A decoder that removes nulls must never run on answers given under the original schema.
    return StrictForm(strict_schema, notes, IDENTITY if notes else decoder)


class _Transformer:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.notes: list[str] = []
        self.table: dict[str, Decoder] = {}
        self.refs: list[tuple[str, str]] = []
        self.validator = engine.validator(root)

    def note(self, location: str, message: str) -> None:
        self.notes.append(f"{location or '/'}: {message}")

    def run(self) -> tuple[dict[str, Any], Decoder]:
        if self.root.get("type") != "object":
            self.note("", 'the root must be "type": "object" in strict mode')
        if "anyOf" in self.root:
            self.note("/anyOf", "the root must not be anyOf in strict mode")
        out, decoder = self.node(self.root, "")
        self.table["#"] = decoder
        for location, key in self.refs:
            if key not in self.table:
                self.note(location, f"$ref target {key!r} does not exist")
        self.notes.extend(_limit_notes(out))
        return out, decoder

    def node(self, schema: Any, location: str) -> tuple[Any, Decoder]:
        """The strict form of one subschema and the decoder for values at its location."""
        if not isinstance(schema, dict):
            self.note(location, "boolean schemas are not supported by strict mode")
            return schema, IDENTITY
        types = _types(schema)
        if not types and not any(k in schema for k in (*_WHOLE_VALUE, "$ref")):
            self.note(location, "no type: strict mode needs every schema to state its type")
        out = self.plain_keywords(schema, location)
        optional: frozenset[str] = frozenset()
        children: dict[str, Decoder] = {}
        if "object" in types or any(k in schema for k in _OBJECT_KEYWORDS):
            optional, children = self.object_part(schema, location, out)
        items = self.items_part(schema, types, location, out)
        if "anyOf" in schema:
            branches = schema["anyOf"]
            out["anyOf"] = [
                self.node(b, location + pointer("anyOf", i))[0] for i, b in enumerate(branches)
            ]
        self.defs_part(schema, location, out)
        decoder: Decoder = IDENTITY
        if "$ref" in schema:
            decoder = self.ref_part(schema, location, out)
        elif optional or children or items is not IDENTITY:
            decoder = ShapeDecoder(optional, children, items)
        self.check_whole_value(schema, location)
        # The author's key order is kept: models generate properties in schema order.
        ordered = {key: out[key] for key in schema if key in out}
        ordered.update(out)
        return ordered, decoder

    def plain_keywords(self, schema: dict[str, Any], location: str) -> dict[str, Any]:
        """The keywords strict mode takes as they are; a note for each one it refuses."""
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in KEPT:
                out[key] = copy.deepcopy(value)
            elif key in UNSUPPORTED:
                self.note(location, f"{key} is not supported by strict mode")
            elif key == "format" and value in STRICT_FORMATS:
                out[key] = value
            elif key == "format":
                self.note(location, f"format {value!r} is not supported by strict mode")
        return out

    def items_part(
        self, schema: dict[str, Any], types: set[str], location: str, out: dict[str, Any]
    ) -> Decoder:
        """The strict form of `items` (into `out`) and the decoder of each item."""
        if "items" in schema:
            out["items"], items = self.node(schema["items"], location + "/items")
            return items
        if "array" in types:
            self.note(location, "an array needs items in strict mode")
        return IDENTITY

    def defs_part(self, schema: dict[str, Any], location: str, out: dict[str, Any]) -> None:
        """The strict form of `$defs`/`definitions`; the root's go in the ref table."""
        for defs in _DEFS:
            if not isinstance(schema.get(defs), dict):
                continue
            out[defs] = {}
            for name, sub in schema[defs].items():
                sub_location = location + pointer(defs, name)
                out[defs][name], sub_decoder = self.node(sub, sub_location)
                if not location:
                    self.table["#" + sub_location] = sub_decoder

    def check_whole_value(self, schema: dict[str, Any], location: str) -> None:
        """A note when anyOf/enum/const would judge a value carrying strict mode's nulls."""
        whole = [k for k in _WHOLE_VALUE if k in schema]
        if whole and self.needs_decode(schema, set()):
            self.note(
                location,
                f"{'/'.join(whole)} would see the nulls strict mode adds for optional "
                "properties, so the strict form would accept different documents",
            )

    def object_part(
        self, schema: dict[str, Any], location: str, out: dict[str, Any]
    ) -> tuple[frozenset[str], dict[str, Decoder]]:
        properties: dict[str, Any] = schema.get("properties", {})
        required: list[str] = schema.get("required", [])
        extra = schema.get("additionalProperties")
        if "additionalProperties" not in schema:
            self.note(
                location,
                "additionalProperties is absent, so the contract allows extra keys and strict "
                'mode would forbid them; add "additionalProperties": false',
            )
        elif extra is not False:
            self.note(location, "additionalProperties must be false in strict mode")
        for name in required:
            if name not in properties:
                self.note(location + "/required", f"{name!r} is required but not in properties")
        optional: set[str] = set()
        children: dict[str, Decoder] = {}
        strict_properties: dict[str, Any] = {}
        for name, sub in properties.items():
            sub_location = location + pointer("properties", name)
            strict_sub, sub_decoder = self.node(sub, sub_location)
            if name not in required:
                optional.add(name)
                if self.validator.evolve(schema=sub).is_valid(None):
                    self.note(
                        sub_location,
                        "optional and already accepts null: strict mode cannot tell a "
                        "missing value from null",
                    )
                strict_sub = _nullable(strict_sub)
            strict_properties[name] = strict_sub
            if sub_decoder is not IDENTITY:
                children[name] = sub_decoder
        out["properties"] = strict_properties
        out["required"] = list(properties)
        out["additionalProperties"] = False
        return frozenset(optional), children

    def ref_part(self, schema: dict[str, Any], location: str, out: dict[str, Any]) -> Decoder:
        ref = schema["$ref"]
        key = unquote(ref) if isinstance(ref, str) else ""
        if not _supported_ref(key):
            self.note(
                location,
                f"$ref {ref!r} is not supported: use #, #/$defs/NAME or #/definitions/NAME",
            )
            return IDENTITY
        siblings = sorted(
            k for k in schema if k in KEPT | {"properties", "items", "anyOf", "format"}
        )
        siblings = [k for k in siblings if k not in ("title", "description")]
        if siblings:
            self.note(
                location, f"$ref next to {', '.join(siblings)} is not supported by strict mode"
            )
        out["$ref"] = ref
        self.refs.append((location, key))
        return RefDecoder(self.table, key)

    def needs_decode(self, schema: Any, seen: set[int]) -> bool:
        """Whether any value at this location can carry nulls added for optional properties."""
        if not isinstance(schema, dict) or id(schema) in seen:
            return False
        seen.add(id(schema))
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if any(name not in required for name in properties):
            return True
        subs: list[Any] = [*properties.values(), schema.get("items"), *schema.get("anyOf", [])]
        ref = ref_of(schema)
        if ref is not None:
            subs.append(self.resolve(ref))
        return any(self.needs_decode(sub, seen) for sub in subs)

    def resolve(self, ref: str) -> Any:
        """The schema a supported `$ref` names; None for the others (`ref_part` notes them)."""
        key = unquote(ref)
        return lookup(self.root, key) if _supported_ref(key) else None


def _supported_ref(key: str) -> bool:
    """Whether a (percent-decoded) ref is `#`, `#/$defs/NAME` or `#/definitions/NAME`."""
    parts = key.split("/")
    return key == "#" or (len(parts) == 3 and parts[0] == "#" and parts[1] in _DEFS)


def _types(schema: dict[str, Any]) -> set[str]:
    value = schema.get("type")
    if isinstance(value, str):
        return {value}
    return set(value) if isinstance(value, list) else set()


def _nullable(schema: Any) -> Any:
    """The schema also accepting null, written the way strict mode documents it."""
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    plain = not any(k in schema for k in (*_WHOLE_VALUE, "$ref"))
    # Scalar keywords (pattern, minimum...) ignore null, so a type list is exact for scalars.
    if plain and isinstance(kind, str) and kind in _SCALARS:
        return {**schema, "type": kind if kind == "null" else [kind, "null"]}
    if plain and isinstance(kind, list) and set(kind) <= _SCALARS:
        return {**schema, "type": kind if "null" in kind else [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _limit_notes(schema: dict[str, Any]) -> list[str]:
    depth = 0
    properties = 0
    enum_values = 0
    stack: list[tuple[Any, int]] = [(schema, 0)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, dict):
            continue
        if "properties" in node:
            level += 1
            depth = max(depth, level)
            properties += len(node["properties"])
            stack.extend((sub, level) for sub in node["properties"].values())
        enum_values += len(node.get("enum", []))
        stack.extend((sub, level) for sub in node.get("anyOf", []))
        stack.append((node.get("items"), level))
        for defs in _DEFS:
            stack.extend((sub, 0) for sub in node.get(defs, {}).values())
    notes = []
    if depth > MAX_NESTING:
        notes.append(f"/: {depth} levels of object nesting; strict mode allows {MAX_NESTING}")
    if properties > MAX_PROPERTIES:
        notes.append(f"/: {properties} properties; strict mode allows {MAX_PROPERTIES}")
    if enum_values > MAX_ENUM_VALUES:
        notes.append(f"/: {enum_values} enum values; strict mode allows {MAX_ENUM_VALUES}")
    return notes
