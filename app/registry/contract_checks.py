"""Contract changes in a spec's checks and grounded strings.

Checks are part of the output contract: an answer that fails one is never returned. A new
or stricter check (a new one, a changed expression, a warning made an error, a newly
grounded string) can turn answers callers used to get into 502s; a removed or relaxed one
gives callers answers that no longer keep an invariant their code may rely on. Neither can
be proven safe from the expressions, so each is `may_break`: it needs the same confirmation
at publish as a breaking change. A changed message, or a change to a check that only warns,
is compatible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.compiler.grounding import GroundedField, grounded_fields
from app.core.errors import pointer
from app.registry.contract_walk import Change


def check_changes(
    old_checks: Sequence[Mapping[str, Any]],
    new_checks: Sequence[Mapping[str, Any]],
    old_output: Mapping[str, Any],
    new_output: Mapping[str, Any],
) -> list[Change]:
    """Every change to the checks (matched by name) and to the grounded output strings."""
    return [
        *_check_list_changes(old_checks, new_checks),
        *_grounding_changes(old_output, new_output),
    ]


def _check_list_changes(
    old_checks: Sequence[Mapping[str, Any]], new_checks: Sequence[Mapping[str, Any]]
) -> list[Change]:
    old = {str(c.get("name")): c for c in old_checks}
    changes: list[Change] = []
    for i, check in enumerate(new_checks):
        name = str(check.get("name"))
        where = pointer("checks", i)
        before = old.pop(name, None)
        if before is None:
            changes.append(_change(where, "check_added", check, f"new check {name!r}"))
        elif before.get("assert") != check.get("assert"):
            changes.append(
                _change(where, "check_changed", check, f"check {name!r} asserts something else")
            )
        elif _errs(check) and not _errs(before):
            changes.append(
                _change(where, "check_stricter", check, f"check {name!r} now refuses answers")
            )
        elif _errs(before) and not _errs(check):
            changes.append(
                _change(where, "check_relaxed", before, f"check {name!r} now only warns")
            )
    for name, check in old.items():
        changes.append(_change("/checks", "check_removed", check, f"check {name!r} removed"))
    return changes


def _errs(check: Mapping[str, Any]) -> bool:
    return bool(check.get("severity", "error") == "error")


def _change(where: str, kind: str, check: Mapping[str, Any], what: str) -> Change:
    if not _errs(check):
        return Change("output", where, kind, "compatible", f"{what}; it only warns")
    return Change(
        "output",
        where,
        kind,
        "may_break",
        f"{what}: answers callers got before may now be refused (502), or ones they relied "
        "on being refused may now be returned",
    )


def _grounding_changes(
    old_output: Mapping[str, Any], new_output: Mapping[str, Any]
) -> list[Change]:
    old = {f.path: f for f in grounded_fields(old_output)}
    new = {f.path: f for f in grounded_fields(new_output)}
    changes: list[Change] = []
    for path, field in new.items():
        before = old.get(path)
        if before is None:
            changes.append(_grounded(path, "grounding_added", "must now appear in the input"))
        elif _looser(field, before):
            changes.append(_grounded(path, "grounding_stricter", "needs a closer match now"))
    for path in old.keys() - new.keys():
        changes.append(_grounded(path, "grounding_removed", "no longer has to appear"))
    return changes


def _looser(new: GroundedField, old: GroundedField) -> bool:
    """Whether the old marker accepted matches the new one refuses."""
    if new.min_similarity is None:
        return old.min_similarity is not None
    return old.min_similarity is not None and new.min_similarity > old.min_similarity


def _grounded(path: tuple[str | None, ...], kind: str, what: str) -> Change:
    shown = "/" + "/".join("*" if step is None else step for step in path)
    steps: list[str] = []
    for step in path:
        steps += ["items"] if step is None else ["properties", step]
    return Change(
        "output",
        pointer("output_schema", *steps, "x-grounded"),
        kind,
        "may_break",
        f"the grounded string at {shown} {what}: answers callers got before may now be "
        "refused (502), or values absent from the input returned",
    )
