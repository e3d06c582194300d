"""Contract diff: is a new version's API compatible with the live one, for its callers?

A caller *sends* inputs and *reads* outputs, so the two schemas change in opposite ways:

- input: every input the old schema accepted must still be accepted. Widening is compatible
  (a new optional field, a wider type, more enum values, looser bounds); narrowing is
  breaking (a new required field, a narrower or other type, fewer enum values, tighter
  bounds, a new pattern/format/const/multipleOf, additionalProperties closed, a field
  removed while additionalProperties is closed).
- output: every output the new schema allows must be one the old schema allowed, so code
  written against it keeps working. Narrowing is compatible, widening is breaking. New
  output fields are compatible: clients ignore unknown fields (additionalProperties on the
  output is not part of the contract a client relies on). Likewise a new optional input
  field is compatible even on an open input schema: callers sending undocumented fields are
  not a contract to keep.

Every keyword is either compared exactly (`contract_walk`, `contract_objects`) or, when a
change cannot be proven safe in either direction (a changed `oneOf`, `not`, `if`, a
`pattern` replaced by another, `unevaluatedProperties`, an unknown keyword…), reported with
the verdict `may_break`. A `may_break` change needs the same confirmation at publish as a
breaking one, so `breaking` on a change and on the diff means "needs a human's
confirmation"; `verdict` says which of the two it is. Keywords beside a `$ref` add to its
target (they never replace it), and recursion through `$ref` ends because each pair of
locations is compared once. The spec's checks and grounded strings narrow the output
further (`contract_checks`): a change to one that refuses answers is `may_break`. Pure
functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from app.registry.contract_checks import check_changes
from app.registry.contract_walk import Change, Walker

Side = Literal["input", "output"]
Verdict = Literal["compatible", "breaking", "may_break"]


class ContractChange(BaseModel):
    """One change of the API contract, where it is and whether it breaks callers."""

    side: Side
    pointer: str  # JSON Pointer into the spec document, e.g. /input_schema/properties/email
    kind: str
    breaking: bool  # needs confirmation: the verdict is breaking or may_break
    verdict: Verdict = "compatible"
    message: str


class ContractDiff(BaseModel):
    """Every contract change from one version to another; `breaking` if any needs
    confirmation (a breaking or a may-break change)."""

    breaking: bool
    may_break: bool = False  # some change could not be proven safe (nor breaking)
    changes: list[ContractChange]

    @property
    def breaking_changes(self) -> list[ContractChange]:
        return [c for c in self.changes if c.breaking]


def classify_contract(
    old_input: dict[str, Any],
    old_output: dict[str, Any],
    new_input: dict[str, Any],
    new_output: dict[str, Any],
    *,
    old_checks: Sequence[Mapping[str, Any]] = (),
    new_checks: Sequence[Mapping[str, Any]] = (),
) -> ContractDiff:
    """Compare two versions' input and output schemas, and their checks (which refuse
    outputs the schema allows), and classify every change."""
    found: list[Change] = []
    Walker("input", old_input, new_input, found).compare(old_input, new_input, ("input_schema",))
    Walker("output", old_output, new_output, found).compare(
        old_output, new_output, ("output_schema",)
    )
    found += check_changes(old_checks, new_checks, old_output, new_output)
    changes = [
        ContractChange(
            side=c.side,
            pointer=c.pointer,
            kind=c.kind,
            breaking=c.verdict != "compatible",
            verdict=c.verdict,
            message=c.message,
        )
        for c in found
    ]
    return ContractDiff(
        breaking=any(c.breaking for c in changes),
        may_break=any(c.verdict == "may_break" for c in changes),
        changes=changes,
    )
