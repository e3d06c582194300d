"""What the offline model answers: pure functions, no litellm, no I/O.

See `app.providers.offline` for the behaviour; this half is importable without litellm so the
fake upstream (and benchmarks) start fast and reuse the same generator.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from app.core.fastjson import canonical_json
from app.core.jsontext import balanced_objects
from app.jsonschema.authoring import schema_problems
from app.jsonschema.generate import generator_for
from app.providers.offline_extract import extract

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SCHEMA_TAG = re.compile(r"<(output_schema|json_schema|schema)>(.*?)</\1>", re.DOTALL)


def offline_answer(
    messages: Sequence[Mapping[str, Any]],
    response_format: Any = None,
    hints: Mapping[str, Any] | None = None,
) -> str:
    """The offline model's reply (JSON object text) to a chat, as described in the module doc.

    `hints` is the `specloom` entry of the request metadata: the spec's examples (which
    every model reads in the prompt) and its document fields. Never tests' expectations.
    """
    schema = schema_of(response_format) or _schema_in_prompt(messages)
    user_input = user_input_of(messages)
    key = canonical_json(user_input)
    hints = hints if isinstance(hints, Mapping) else {}
    for example in _dicts(hints.get("examples")):
        output = example.get("output")
        matches = "input" in example and canonical_json(example["input"]) == key
        if matches and isinstance(output, dict):
            return json.dumps(output, ensure_ascii=False)
    # Documents: labelled values in their text.
    equals: dict[str, Any] = _from_documents(user_input, hints.get("documents"), schema)
    schema_json = json.dumps(schema, separators=(",", ":")) if schema is not None else ""
    return _generated(schema_json, key, canonical_json(equals))


@lru_cache(maxsize=1024)
def _generated(schema_json: str, input_key: str, equals_json: str) -> str:
    # A pure function of its (string) arguments, so repeated calls (benchmarks, re-asks)
    # cost one dictionary lookup. Bounded: keys hold whole schemas.
    equals: dict[str, Any] = json.loads(equals_json)
    seed = hashlib.sha256(input_key.encode()).digest()
    if not schema_json:
        value: Any = {}
        for path, forced in equals.items():
            value = _with_pointer(value, path, forced)
        return json.dumps(value if isinstance(value, dict) else {}, ensure_ascii=False)
    value = generator_for(json.loads(schema_json)).generate(seed, equals)
    return json.dumps(value, ensure_ascii=False)


def _from_documents(user_input: Any, fields: Any, schema: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(user_input, dict) or not isinstance(fields, list) or schema is None:
        return {}
    texts = [user_input[f] for f in fields if isinstance(user_input.get(f), str)]
    return extract(texts, schema, generator_for(schema)) if texts else {}


def schema_of(response_format: Any) -> dict[str, Any] | None:
    """The JSON Schema inside an OpenAI `response_format` (dict or pydantic model class)."""
    if isinstance(response_format, type) and hasattr(response_format, "model_json_schema"):
        schema = response_format.model_json_schema()
        return schema if isinstance(schema, dict) else None
    if not isinstance(response_format, Mapping):
        return None
    if response_format.get("type") != "json_schema":
        return None
    wrapper = response_format.get("json_schema")
    schema = wrapper.get("schema") if isinstance(wrapper, Mapping) else None
    return dict(schema) if isinstance(schema, Mapping) else None


def user_input_of(messages: Sequence[Mapping[str, Any]]) -> Any:
    """The caller's input: JSON in the last `<input>…</input>`, else the last user text."""
    last_user: str | None = None
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        text = text_of(message.get("content"))
        last_user = text if last_user is None else last_user
        start = text.rfind("<input>")
        end = text.find("</input>", start + 1)
        if start >= 0 and end > start:
            return _json_or_text(text[start + len("<input>") : end])
    return _json_or_text(last_user or "")


def count_tokens(text: str) -> int:
    """A deterministic token count: words and punctuation marks."""
    return len(_TOKEN.findall(text))


def _schema_in_prompt(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last JSON Schema (object root) written out in a system message, if any."""
    for message in reversed(messages):
        if message.get("role") != "system":
            continue
        text = text_of(message.get("content"))
        tagged = [m.group(2) for m in _SCHEMA_TAG.finditer(text)]
        for candidate in reversed([*balanced_objects(text), *tagged]):
            schema = _loads_object(candidate.strip())
            if schema is not None and _looks_like_schema(schema):
                return schema
    return None


def _looks_like_schema(value: dict[str, Any]) -> bool:
    if value.get("type") != "object" and "properties" not in value:
        return False
    return not schema_problems(value)


def _loads_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


def text_of(content: Any) -> str:
    """The text of a message content (a string, or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def _dicts(value: Any) -> Iterable[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _with_pointer(value: Any, path: str, forced: Any) -> Any:
    """`value` with `forced` at JSON Pointer `path`, creating objects along the way."""
    if path == "":
        return forced
    if not path.startswith("/"):
        return value  # not a JSON Pointer: nothing sensible to set
    head, _, rest = path[1:].partition("/")
    head = head.replace("~1", "/").replace("~0", "~")
    target = dict(value) if isinstance(value, dict) else {}
    target[head] = _with_pointer(target.get(head), "/" + rest if rest else "", forced)
    return target
