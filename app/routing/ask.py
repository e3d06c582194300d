"""What routing is asked: messages, the output formats, a deadline and a check of the answer.

Routing knows nothing of specs. The caller hands it the messages, the formats to send
(a JSON Schema where the provider takes one, JSON mode otherwise), how to judge a reply
(`check`: its schema and the spec's checks) and what to say when a reply is judged invalid
(`reask`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.core.errors import Issue
from app.executions.record import AttemptOutcome
from app.providers.base import ModelCallFailed

Messages = list[dict[str, Any]]


class Verdict(Protocol):
    """How a reply was judged: usable (`ok`, with `value`) or not, and why."""

    @property
    def ok(self) -> bool: ...
    @property
    def value(self) -> dict[str, Any] | None: ...
    @property
    def stage(self) -> AttemptOutcome: ...
    @property
    def issues(self) -> Sequence[Issue]: ...


@dataclass(slots=True)
class Ask:
    """One question to route through the models.

    Not frozen: one is built on every call, and a frozen dataclass costs about a microsecond
    a field to build. Nothing changes it once built.
    """

    messages: Messages
    schema_format: dict[str, Any]  # for providers that take a JSON Schema
    json_format: dict[str, Any]  # JSON mode, the schema in the prompt, for the others
    # Judges a reply's text: `strict` is whether it was produced under `schema_format`,
    # `placeholder` whether its model answers with placeholders (the offline model), whose
    # values say nothing of the checks beyond the schema.
    check: Callable[[str, bool, bool], Verdict]
    # The messages of a re-ask after an invalid reply (its text and verdict).
    reask: Callable[[str, Verdict], Messages]
    deadline: float  # on the services' monotonic clock
    temperature: float | None = None
    max_tokens: int | None = None
    strict: bool = False  # whether `schema_format` is strict (enforced by the provider)
    needs_vision: bool = False
    hedge: bool | None = None  # this question's own hedging choice; None: the options'.
    hints: dict[str, Any] | None = None  # for the offline model only


@dataclass
class DeploymentRun:
    """How one deployment's turn ended."""

    output: dict[str, Any] | None = None
    model: str | None = None
    invalid: Verdict | None = None
    # The last reply stopped at the output limit after this many tokens (None: it did not).
    truncated_at: int | None = None
    failure: ModelCallFailed | None = None
    skipped: list[str] = field(default_factory=list)
    # The last re-ask answered with a text already rejected: asking again will not help.
    repeated: bool = False
    # Tokens the prompt and output limit need, when they could not fit the model's window.
    context_needed: int | None = None
    deadline_passed: bool = False

    @property
    def answered_unusably(self) -> bool:
        """The model answered, but not with a usable output (invalid, or cut off)."""
        return self.invalid is not None or self.truncated_at is not None
