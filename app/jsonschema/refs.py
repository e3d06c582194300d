"""Local `$ref`s of a JSON Schema: the one place that turns a reference into the schema it names.

A *local* reference starts with `#`: it points into the same document (anything else is a
remote reference, which nothing here fetches). Of the local ones, `#` (the whole document)
and JSON Pointers `#/a/b` (RFC 6901: `~1` stands for `/` and `~0` for `~` inside a token)
are understood; an anchor such as `#name` is not. Pointers walk object keys only, never
array indexes: schemas name their reusable parts in `$defs`/`definitions`, and no caller
needs `#/anyOf/0`. Percent-encoding (`%25`) is not decoded either; a caller that gets refs
in URI form decodes them first.

Pure functions, no I/O; safe on any JSON value, so they never raise on a malformed schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REF = "$ref"
MAX_HOPS = 16  # a chain of refs longer than this is treated as a cycle


def is_local(ref: str) -> bool:
    """Whether `ref` points into the same document (it starts with `#`)."""
    return ref.startswith("#")


def ref_of(schema: Any) -> str | None:
    """The schema's `$ref` when it is a string, else None (booleans, lists… have none)."""
    ref = schema.get(REF) if isinstance(schema, Mapping) else None
    return ref if isinstance(ref, str) else None


def unescape(token: str) -> str:
    """One JSON Pointer token as the key it names (`~1` is `/`, `~0` is `~`)."""
    return token.replace("~1", "/").replace("~0", "~")


def lookup(root: Any, ref: str) -> Any | None:
    """The value `ref` (`#` or `#/...`) names inside `root`, or None.

    None means the reference is remote, not a JSON Pointer, or dangling (a key is
    missing, or a step lands on something that is not an object).
    """
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for token in ref[2:].split("/"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(unescape(token))
    return node


def deref(schema: Any, root: Any, *, max_hops: int = MAX_HOPS, keep_siblings: bool = False) -> Any:
    """`schema` with its local `$ref` followed, hop after hop, to a schema without one.

    Stops early, returning the schema that still holds its `$ref`, when the reference is
    remote or dangling; after `max_hops` hops it returns whatever it reached, so a cycle
    (`A -> B -> A`) ends. With `keep_siblings`, the keywords written next to a `$ref`
    are kept on top of its target (2020-12 lets them constrain together); without, the
    target replaces the schema. A target that is not an object (a boolean schema) always
    replaces it.
    """
    for _ in range(max_hops):
        ref = ref_of(schema)
        if ref is None:
            return schema
        target = lookup(root, ref)
        if target is None:
            return schema
        if keep_siblings and isinstance(target, Mapping):
            target = {**target, **{k: v for k, v in schema.items() if k != REF}}
        schema = target
    return schema
