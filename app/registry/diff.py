"""Structural diff of two JSON documents, as a list of pointer-addressed changes."""

from __future__ import annotations

from typing import Any, Literal

from app.core.errors import pointer

Change = tuple[Literal["add", "remove", "replace"], str, Any, Any]


def diff_documents(before: Any, after: Any, path: tuple[str | int, ...] = ()) -> list[Change]:
    """Every change from `before` to `after`: (op, JSON Pointer, old value, new value).

    Objects are compared key by key; lists of equal length element by element; anything
    else that differs (including lists whose length changed) is one `replace`.
    """
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[Change] = []
        for key in sorted(before.keys() | after.keys()):
            if key not in after:
                changes.append(("remove", pointer(*path, key), before[key], None))
            elif key not in before:
                changes.append(("add", pointer(*path, key), None, after[key]))
            else:
                changes.extend(diff_documents(before[key], after[key], (*path, key)))
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for i, (old, new) in enumerate(zip(before, after, strict=True)):
            changes.extend(diff_documents(old, new, (*path, i)))
        return changes
    if before == after and type(before) is type(after):
        return []
    return [("replace", pointer(*path), before, after)]
