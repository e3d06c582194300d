"""A spec version compiled into what a call needs: messages, response format, validators.

Compiling renders templates and builds validators, so it happens once per content hash per
process; the result is immutable and shared by every request for that version.
"""

from __future__ import annotations

import copy
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.compiler.checks import CheckResult, SpecChecks
from app.compiler.decode import Decoder
from app.compiler.document import SpecDocument
from app.compiler.file_fields import FileField, file_fields, reference_schema
from app.compiler.prompt import (
    INPUT_PLACEHOLDER,
    encode_input,
    render_reask,
    render_system,
    user_template,
)
from app.compiler.strict import make_strict
from app.compiler.validation import SchemaValidator
from app.core.errors import Issue

# Enough for every live version and the recent ones being tested; a compiled spec is small.
CACHE_SIZE = 256

_cache: OrderedDict[str, CompiledSpec] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True, slots=True, eq=False)
class CompiledSpec:
    """Everything derived from one spec version; immutable, so processes share one per hash.

    Do not mutate the dicts it holds: they are shared by every request for the version.
    """

    name: str
    content_hash: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    system_prompt: str
    response_format: dict[str, Any]
    json_object_format: dict[str, Any]
    strict: bool
    strict_notes: tuple[str, ...]
    file_fields: dict[str, FileField]  # the input's file fields, by name
    _user_prefix: str = field(repr=False)
    _user_suffix: str = field(repr=False)
    _input_validator: SchemaValidator = field(repr=False)
    _output_validator: SchemaValidator = field(repr=False)
    _decoder: Decoder = field(repr=False)
    _checks: SpecChecks = field(repr=False)

    def messages(self, input: dict[str, Any]) -> list[dict[str, Any]]:
        """Chat messages for one call: the pre-rendered system prompt and the input section."""
        user = self._user_prefix + encode_input(input) + self._user_suffix
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
        ]

    def reask_messages(
        self, input: dict[str, Any], previous_text: str, issues: list[Issue]
    ) -> list[dict[str, Any]]:
        """The call's messages, the rejected answer, and a request to fix the listed errors."""
        return [
            *self.messages(input),
            {"role": "assistant", "content": previous_text},
            {"role": "user", "content": render_reask(issues)},
        ]

    def validate_input(self, value: Any) -> list[Issue]:
        """Issues of a caller's input against the input schema; empty when valid."""
        return self._input_validator.issues(value)

    def validate_output(self, value: Any) -> list[Issue]:
        """Issues of an answer against the output schema (the contract); empty when valid."""
        return self._output_validator.issues(value)

    @property
    def has_checks(self) -> bool:
        """Whether answers are judged beyond the schema (CEL checks or grounded strings)."""
        return bool(self._checks)

    @property
    def check_names(self) -> tuple[str, ...]:
        """The spec's checks by name (`x-grounded` standing for every grounded string)."""
        return self._checks.names

    def judge_output(self, input: Any, input_text: Any, output: Any) -> CheckResult:
        """The checks a schema-valid answer fails for the call's `input`; `input_text` is
        the input as the model read it (documents as their text), which grounding searches."""
        return self._checks.judge(input, input_text, output)

    def decode_strict(self, value: Any) -> Any:
        """A strict-mode answer as a document of the original schema (identity if not strict).

        Only for answers produced under `response_format`: it removes the nulls the strict
        form adds for optional properties. The input is not modified.
        """
        return self._decoder.decode(value)

    def public(self) -> dict[str, Any]:
        """The compiled spec as JSON for the API, with a placeholder where the input goes."""
        user = self._user_prefix + INPUT_PLACEHOLDER + self._user_suffix
        return copy.deepcopy(
            {
                "name": self.name,
                "content_hash": self.content_hash,
                "messages": [
                    {"role": "system", "content": self.system_prompt},
                    {"role": "user", "content": user},
                ],
                "input_placeholder": INPUT_PLACEHOLDER,
                "response_format": self.response_format,
                "json_object_format": self.json_object_format,
                "strict": self.strict,
                "strict_notes": list(self.strict_notes),
                "input_schema": self.input_schema,
                "output_schema": self.output_schema,
            }
        )


def compile_spec(document: SpecDocument, content_hash: str) -> CompiledSpec:
    """Compile a checked document, once per content hash per process (a bounded LRU cache).

    The hash is trusted as the document's identity: pass `content_hash(document)` (or the
    stored version's hash), never a hash of something else.
    """
    with _cache_lock:
        cached = _cache.get(content_hash)
        if cached is not None:
            _cache.move_to_end(content_hash)
            return cached
    # Compiled outside the lock: it is pure, so a race only compiles twice; the first stored
    # result wins and every caller gets that same object.
    compiled = _compile(document, content_hash)
    with _cache_lock:
        kept = _cache.setdefault(content_hash, compiled)
        _cache.move_to_end(content_hash)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return kept


def _compile(document: SpecDocument, content_hash: str) -> CompiledSpec:
    # Own copies: the document is mutable and may be reused by its owner.
    input_schema = copy.deepcopy(document.input_schema)
    output_schema = copy.deepcopy(document.output_schema)
    form = make_strict(output_schema)
    prefix, suffix = user_template()
    return CompiledSpec(
        name=document.name,
        content_hash=content_hash,
        input_schema=input_schema,
        output_schema=output_schema,
        system_prompt=render_system(document),
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": _format_name(document.name),
                "schema": form.schema if form.strict else output_schema,
                "strict": form.strict,
            },
        },
        json_object_format={"type": "json_object"},
        strict=form.strict,
        strict_notes=form.notes,
        file_fields=file_fields(input_schema),
        _user_prefix=prefix,
        _user_suffix=suffix,
        # File fields arrive prepared: a reference to the file in place of its bytes.
        _input_validator=SchemaValidator(reference_schema(input_schema)),
        _output_validator=SchemaValidator(output_schema),
        _decoder=form.decoder,
        _checks=SpecChecks(document.checks, output_schema),
    )


def _format_name(name: str) -> str:
    # Providers accept ^[a-zA-Z0-9_-]{1,64}$ as a response format name.
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "output"
