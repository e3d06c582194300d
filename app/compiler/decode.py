"""Undo the strict transform: turn a strict-mode answer back into a document of the contract.

The strict transform makes every optional property required-but-nullable. A decoder is the
plan for removing exactly those introduced nulls, built once per compiled spec. `encode` is
its inverse (fill every missing optional property with null); the runtime never needs it, the
tests use it to show the round trip is lossless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Decoder:
    """A node of the decoding plan; the base class decodes nothing (identity)."""

    __slots__ = ()

    def decode(self, value: Any) -> Any:
        """The value with the nulls the strict form introduced removed."""
        return value

    def encode(self, value: Any) -> Any:
        """The value with every missing optional property set to null (inverse of decode)."""
        return value

    def __repr__(self) -> str:
        return "IDENTITY"


IDENTITY = Decoder()


@dataclass(frozen=True, slots=True)
class ShapeDecoder(Decoder):
    """One schema location: which declared properties were optional, and how to go deeper.

    A single node covers objects and arrays because a schema may allow both
    (`"type": ["object", "array"]`); each part only acts on values of its own shape.
    """

    optional: frozenset[str]
    children: Mapping[str, Decoder]
    items: Decoder

    def decode(self, value: Any) -> Any:
        """Drop nulls of originally-optional properties, recursively."""
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, child in value.items():
                if child is None and key in self.optional:
                    continue
                sub = self.children.get(key)
                out[key] = sub.decode(child) if sub is not None else child
            return out
        if isinstance(value, list) and self.items is not IDENTITY:
            return [self.items.decode(item) for item in value]
        return value

    def encode(self, value: Any) -> Any:
        """Add null for every originally-optional property that is absent, recursively."""
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, child in value.items():
                sub = self.children.get(key)
                out[key] = sub.encode(child) if sub is not None else child
            for key in self.optional:
                out.setdefault(key, None)
            return out
        if isinstance(value, list) and self.items is not IDENTITY:
            return [self.items.encode(item) for item in value]
        return value


@dataclass(frozen=True, slots=True)
class RefDecoder(Decoder):
    """A `$ref`: looked up when used, because recursive schemas make the plan a graph."""

    table: Mapping[str, Decoder]
    ref: str

    def decode(self, value: Any) -> Any:
        """Decode with the plan of the referenced definition."""
        return self.table[self.ref].decode(value)

    def encode(self, value: Any) -> Any:
        """Encode with the plan of the referenced definition."""
        return self.table[self.ref].encode(value)
