"""Finding JSON objects inside free text (model replies, chat messages)."""

from __future__ import annotations

from collections.abc import Iterator


def balanced_objects(text: str) -> Iterator[str]:
    """Every top-level `{...}` span of `text`, ignoring braces inside quoted strings."""
    depth = 0
    start = 0
    quote = ""
    escaped = False
    for i, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                yield text[start : i + 1]
        elif depth > 0 and char in "\"'":
            # Quotes only open strings inside an object: apostrophes in prose are not JSON.
            quote = char
