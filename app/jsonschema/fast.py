"""The compiled fast path: a jsonschema-rs validator that may answer "valid" first.

Only for schemas whose keywords the two libraries read alike (see `app.compiler.validation`
for why each excluded keyword is excluded); it never fetches anything.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from app.jsonschema import ecma
from app.jsonschema.refs import is_local, ref_of

# Keywords whose implementations differ between the two libraries (format checkers, exact
# multipleOf) or that jsonschema-rs may resolve differently ($dynamicRef, remote refs).
_UNSAFE = frozenset({"format", "multipleOf", "$dynamicRef", "$recursiveRef", "$dynamicAnchor"})


def _no_retrieval(uri: str) -> Any:
    raise ValueError(f"{uri}: references outside the document are not fetched")


def compiled(schema: dict[str, Any]) -> Any | None:
    """A jsonschema-rs validator for `schema`, or None where only jsonschema may judge."""
    if _mentions(schema, _UNSAFE) or _has_remote_ref(schema):
        return None
    try:
        return jsonschema_rs.validator_for(
            schema, pattern_options=ecma.OPTIONS, retriever=_no_retrieval
        )
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return None


def _mentions(node: Any, keys: frozenset[str]) -> bool:
    # Any key anywhere counts, a property merely named "format" included: that only costs
    # the fast path, never correctness.
    if isinstance(node, dict):
        return any(k in keys or _mentions(v, keys) for k, v in node.items())
    if isinstance(node, list):
        return any(_mentions(item, keys) for item in node)
    return False


def _has_remote_ref(node: Any) -> bool:
    if isinstance(node, dict):
        ref = ref_of(node)
        if ref is not None and not is_local(ref):
            return True
        return any(_has_remote_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_remote_ref(item) for item in node)
    return False
