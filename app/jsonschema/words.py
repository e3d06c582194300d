"""Schema errors as sentences that name the limit broken.

A model re-asked with jsonschema's "[…] is too long" does not learn what the limit is, and
at temperature 0 sends the same answer back; "`tags` has 6 items; at most 5 are allowed"
tells it. Keywords without a phrase here keep jsonschema's own message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import ValidationError


def in_words(error: ValidationError) -> str:
    """The error as a sentence that names the limit broken ("`tags` has 6 items; at most 5
    are allowed"): a model re-asked with jsonschema's "[…] is too long" sends the same
    answer back, not knowing what the limit is."""
    phrase = _PHRASES.get(str(error.validator))
    if phrase is None:
        return error.message
    return phrase(_name(error), error.instance, error.validator_value)


def _name(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if not path:
        return "the answer"
    if isinstance(path[-1], int):
        parent = f"`{path[-2]}`" if len(path) > 1 else "the answer"
        return f"item {path[-1]} of {parent}"
    return f"`{path[-1]}`"


def _quoted(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _size(name: str, instance: Any, limit: Any, nouns: tuple[str, str], most: bool) -> str:
    if not hasattr(instance, "__len__"):
        return f"{name} is {_quoted(instance)}"
    has = f"{len(instance)} {nouns[len(instance) != 1]}"
    verb = ("is" if limit == 1 else "are") + (" allowed" if most else " required")
    return f"{name} has {has}; {'at most' if most else 'at least'} {limit} {verb}"


_ITEMS, _CHARS, _PROPS = ("item", "items"), ("character", "characters"), ("property", "properties")
_Phrase = Callable[[str, Any, Any], str]
_PHRASES: dict[str, _Phrase] = {
    "maxItems": lambda n, i, v: _size(n, i, v, _ITEMS, True),
    "minItems": lambda n, i, v: _size(n, i, v, _ITEMS, False),
    "maxLength": lambda n, i, v: _size(n, i, v, _CHARS, True),
    "minLength": lambda n, i, v: _size(n, i, v, _CHARS, False),
    "maxProperties": lambda n, i, v: _size(n, i, v, _PROPS, True),
    "minProperties": lambda n, i, v: _size(n, i, v, _PROPS, False),
    "enum": lambda n, i, v: (
        f"{n} is {_quoted(i)}; it must be one of " + ", ".join(_quoted(x) for x in v)
    ),
    "const": lambda n, i, v: f"{n} is {_quoted(i)}; it must be exactly {_quoted(v)}",
    "maximum": lambda n, i, v: f"{n} is {i}; the largest allowed is {v}",
    "minimum": lambda n, i, v: f"{n} is {i}; the smallest allowed is {v}",
    "exclusiveMaximum": lambda n, i, v: f"{n} is {i}; it must be less than {v}",
    "exclusiveMinimum": lambda n, i, v: f"{n} is {i}; it must be greater than {v}",
    "multipleOf": lambda n, i, v: f"{n} is {i}; it must be a multiple of {v}",
    "uniqueItems": lambda n, i, v: f"{n} repeats an item; every item must be different",
}
