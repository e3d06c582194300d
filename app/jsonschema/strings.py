"""Plausible strings for the offline model: free text, formats and regex patterns.

Every choice comes from the `random.Random` the caller seeds from a SHA-256 digest, so the
same input always yields the same string, in every process.

Patterns are handled by walking Python's regex parse tree (close enough to ECMA-262 for the
patterns it can parse) and checking each attempt with the validator's own ECMA-262 matcher
(`ecma.search`). Literals, classes, categories, alternation, groups, back-references and
bounded or unbounded repeats are generated; anchors and look-arounds are skipped. When a
pattern uses anything else, would take more than `MAX_TEXT` characters, or no attempt fits
the length bounds, `from_pattern` returns None and the caller falls back to plain text
(which the final validation may then reject: patterns are best effort). Lengths are capped
at `MAX_TEXT` too: a `minLength` of 5e7 gets a short, invalid answer, not a hang.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import string
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from random import Random
from typing import Any

from app.jsonschema import ecma

# `re._parser` is the stdlib's regex parser; `sre_parse`, its public alias, warns on import.
_sre: Any = importlib.import_module("re._parser")

_EPOCH = dt.date(2024, 1, 1)
_WORD = string.ascii_lowercase + string.digits
_PRINTABLE = string.ascii_letters + string.digits + " -_.,"
_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_NOT_WORD": " -.,",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": string.ascii_letters + string.digits,
}
# The longest string generated: no schema makes the offline model build more.
MAX_TEXT = 20_000
# Unbounded repeats (`*`, `+`, `{n,}`) get at most this many extra copies per attempt step.
_REPEAT_STEPS = (2, 0, 6, 16, 40, 100)


class _Unsupported(Exception):
    """The pattern uses a construct the tiny generator does not know."""


@lru_cache(maxsize=1024)
def label(name: str) -> str:
    """A field name as words: `customerEmail` and `customer_email` give `customer email`."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return " ".join(words.split()).lower() or "value"


@lru_cache(maxsize=1024)
def slug(name: str) -> str:
    """A field name as a URL/email-safe word."""
    return re.sub(r"[^a-z0-9]+", "-", label(name)).strip("-") or "item"


def fit_text(text: str, min_length: int, max_length: int | None) -> str:
    """`text` padded (by repeating it) or cut to fit the length bounds (up to `MAX_TEXT`)."""
    min_length = min(min_length, MAX_TEXT)
    if len(text) < min_length:
        filler = f" {text or 'offline'}"
        text += filler * -(-(min_length - len(text)) // len(filler))  # whole fillers, as before
    if max_length is not None and len(text) > max_length:
        text = text[:max_length].rstrip() if max_length >= min_length else text[:max_length]
        if len(text) < min_length:  # rstrip went below the minimum
            text = text.ljust(min_length, "x")
    return text


def free_text(name: str, rng: Random, min_length: int, max_length: int | None) -> str:
    """An honest placeholder: says it is offline, names the field, varies with the seed.

    Shorter forms are used under a tight `maxLength`; the seed-derived reference is kept
    as long as possible so array items stay distinct (uniqueItems).
    """
    ref = _ref(rng)
    words = label(name)
    forms = (f"offline answer for {words} ({ref})", f"offline {words} {ref}", f"{words} {ref}")
    for text in forms:
        if max_length is None or len(text) <= max_length:
            return fit_text(text, min_length, max_length)
    return fit_text(ref, min_length, max_length)


def formatted(fmt: str, name: str, rng: Random) -> str | None:
    """A value of a known `format`, or None for formats this generator does not know."""
    maker = _FORMATS.get(fmt)
    return maker(slug(name), rng) if maker else None


def for_schema(schema: Mapping[str, Any], name: str, rng: Random) -> str:
    """A string for a string schema: its pattern, else its format, else free text, within
    its length bounds where the pattern or format allows."""
    low = min(int(schema.get("minLength", 0)), MAX_TEXT)
    high = schema.get("maxLength")
    high = None if high is None else int(min(high, MAX_TEXT))
    if isinstance(schema.get("pattern"), str):
        text = from_pattern(schema["pattern"], rng, low, high)
        if text is not None:
            return text
    fmt = schema.get("format")
    if isinstance(fmt, str):
        text = formatted(fmt, name, rng)
        if text is not None and low <= len(text) and (high is None or len(text) <= high):
            return text
    return free_text(name, rng, low, high)


def _day(rng: Random) -> str:
    return (_EPOCH + dt.timedelta(days=rng.randrange(730))).isoformat()


def _clock(rng: Random) -> str:
    return f"{rng.randrange(24):02d}:{rng.randrange(0, 60, 5):02d}:00Z"


def _ref(rng: Random) -> str:
    return f"{rng.getrandbits(24):06x}"


_FORMATS: dict[str, Callable[[str, Random], str]] = {
    "date": lambda _, rng: _day(rng),
    "date-time": lambda _, rng: f"{_day(rng)}T{_clock(rng)}",
    "time": lambda _, rng: _clock(rng),
    "duration": lambda _, rng: f"P{rng.randrange(1, 30)}D",
    "email": lambda word, rng: f"{word}.{_ref(rng)}@example.com",
    "idn-email": lambda word, rng: f"{word}.{_ref(rng)}@example.com",
    "hostname": lambda word, rng: f"{word}-{_ref(rng)}.example.com",
    "idn-hostname": lambda word, rng: f"{word}-{_ref(rng)}.example.com",
    "ipv4": lambda _, rng: f"192.0.2.{rng.randrange(1, 255)}",
    "ipv6": lambda _, rng: f"2001:db8::{rng.getrandbits(16):x}",
    "uri": lambda word, rng: f"https://example.com/{word}/{_ref(rng)}",
    "url": lambda word, rng: f"https://example.com/{word}/{_ref(rng)}",
    "iri": lambda word, rng: f"https://example.com/{word}/{_ref(rng)}",
    "uri-reference": lambda word, rng: f"/{word}/{_ref(rng)}",
    "iri-reference": lambda word, rng: f"/{word}/{_ref(rng)}",
    "uri-template": lambda word, _: f"https://example.com/{word}/{{id}}",
    "uuid": lambda _, rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "json-pointer": lambda word, _: f"/{word}",
    "relative-json-pointer": lambda _, __: "0",
    "regex": lambda _, __: "^[a-z]+$",
}


def from_pattern(
    pattern: str, rng: Random, min_length: int = 0, max_length: int | None = None
) -> str | None:
    """A string the pattern matches (as the validator reads it) that fits the length bounds."""
    matches = ecma.compile_pattern(pattern)
    if matches is None:
        return None
    try:
        tree = _sre.parse(_ascii_classes(pattern))
    except (re.error, RecursionError, OverflowError):
        return None
    for extra in _REPEAT_STEPS:
        for _ in range(3):
            try:
                text = _walk(tree, rng, extra, {})
            except _Unsupported:
                return None
            if (
                len(text) >= min_length
                and (max_length is None or len(text) <= max_length)
                and matches(text)
            ):
                return text
    return None


# ECMA-262 Unicode property classes Python's parser does not know, as ASCII subsets: every
# character generated from them is in the real class, which is all generation needs.
_PROPERTY_CLASSES = {"L": "a-zA-Z", "Lu": "A-Z", "Ll": "a-z", "N": "0-9", "Nd": "0-9"}
_PROPERTY = re.compile(r"\\p\{(\w+)\}|\\.|\[|\]")


def _ascii_classes(pattern: str) -> str:
    """`pattern` with `\\p{L}`-style classes replaced by ASCII ones (inside `[...]` too)."""
    depth = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal depth
        text = match.group(0)
        if text == "[":
            depth += 1
        elif text == "]":
            depth = max(0, depth - 1)
        elif match.group(1) in _PROPERTY_CLASSES:
            chars = _PROPERTY_CLASSES[match.group(1)]
            return chars if depth else f"[{chars}]"
        return text

    return _PROPERTY.sub(replace, pattern)


def _walk(items: Any, rng: Random, extra: int, groups: dict[int, str]) -> str:
    """A string for a parsed (sub)pattern; raises `_Unsupported` for unknown constructs."""
    out: list[str] = []
    for op, arg in items:
        make = _OPS.get(str(op))
        if make is None:
            raise _Unsupported(str(op))
        out.append(make(arg, rng, extra, groups))
    return "".join(out)


def _subpattern(arg: Any, rng: Random, extra: int, groups: dict[int, str]) -> str:
    group, _add, _del, sub = arg
    text = _walk(sub, rng, extra, groups)
    if group is not None:
        groups[group] = text  # for back-references
    return text


def _repeat(arg: Any, rng: Random, extra: int, groups: dict[int, str]) -> str:
    low, high, sub = arg
    if low > MAX_TEXT:
        raise _Unsupported("repetition beyond MAX_TEXT")
    upper = min(high, low + extra)
    count = rng.randint(low, max(low, upper))
    parts: list[str] = []
    size = 0
    for _ in range(count):
        part = _walk(sub, rng, extra, groups)
        size += len(part)
        if size > MAX_TEXT:  # `(a{10000}){10000}`: stop before building 10^8 characters
            raise _Unsupported("longer than MAX_TEXT")
        parts.append(part)
    return "".join(parts)


def _nothing(arg: Any, rng: Random, extra: int, groups: dict[int, str]) -> str:
    return ""  # anchors and look-arounds consume nothing; validation re-checks


_Op = Callable[[Any, Random, int, dict[int, str]], str]
# Regex parse-tree opcode -> how to generate text for it.
_OPS: dict[str, _Op] = {
    "LITERAL": lambda arg, rng, extra, groups: chr(arg),
    "NOT_LITERAL": lambda arg, rng, extra, groups: rng.choice([c for c in _WORD if ord(c) != arg]),
    "ANY": lambda arg, rng, extra, groups: rng.choice(_WORD),
    "IN": lambda arg, rng, extra, groups: _char_in(arg, rng),
    "BRANCH": lambda arg, rng, extra, groups: _walk(rng.choice(arg[1]), rng, extra, groups),
    "SUBPATTERN": _subpattern,
    "MAX_REPEAT": _repeat,
    "MIN_REPEAT": _repeat,
    "POSSESSIVE_REPEAT": _repeat,
    "GROUPREF": lambda arg, rng, extra, groups: groups.get(arg, ""),
    "AT": _nothing,
    "ASSERT": _nothing,
    "ASSERT_NOT": _nothing,
    "ATOMIC_GROUP": lambda arg, rng, extra, groups: _walk(arg, rng, extra, groups),
}


def _char_in(items: Any, rng: Random) -> str:
    negate = False
    allowed: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            allowed.append(chr(arg))
        elif name == "RANGE":
            low, high = arg
            # Prefer printable characters inside wide ranges such as [\x00-\x7f].
            printable = [c for c in _PRINTABLE if low <= ord(c) <= high]
            allowed.extend(printable or [chr(low + rng.randrange(min(high - low + 1, 64)))])
        elif name == "CATEGORY":
            allowed.extend(_CATEGORY_CHARS.get(str(arg), ""))
        else:
            raise _Unsupported(name)
    if negate:
        excluded = set(allowed)
        allowed = [c for c in _PRINTABLE if c not in excluded]
    if not allowed:
        raise _Unsupported("empty character class")
    return rng.choice(allowed)
