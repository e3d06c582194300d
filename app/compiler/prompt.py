"""Render a spec's prompt from the Jinja templates in templates/prompts/.

Author and caller text (title, description, rules, examples, input) only ever reaches Jinja
as template *variables*, never as template source, so `{{ 7*7 }}` in it stays text. Data
placed in delimited sections is JSON with `<` written as `\\u003c`: a value containing
`</input>` cannot close its section early, and the JSON still decodes to the same value.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from app.compiler.document import SpecDocument
from app.core.errors import Issue

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "prompts"
# Shown in the public view of the compiled prompt where the caller's input goes.
INPUT_PLACEHOLDER = "$INPUT_JSON"
# Rendered into the user template once, then split on, so each call only concatenates.
_SENTINEL = "\x00specloom-input\x00"


def data_json(value: Any, *, sort_keys: bool = False, indent: int | None = None) -> str:
    """JSON text of a value that is safe inside a `<section>`: no `<` survives unescaped.

    Outside strings JSON has no `<`, and inside strings `\\u003c` is the same character, so
    replacing every `<` keeps the value intact while no tag can be opened or closed.
    """
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(
        value, ensure_ascii=False, sort_keys=sort_keys, indent=indent, separators=separators
    )
    return text.replace("<", "\\u003c")


def encode_input(value: Any) -> str:
    """The caller's input as it appears in the prompt: canonical, delimiter-safe JSON."""
    return data_json(value, sort_keys=True)


@cache
def environment() -> SandboxedEnvironment:
    """The template environment, built on first use (the only I/O of the compiler)."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["data_json"] = data_json
    return env


def render_system(document: SpecDocument) -> str:
    """The system prompt: who the agent is, its rules, contract, examples and answer format."""
    return (
        environment()
        .get_template("system.j2")
        .render(
            title=document.title,
            description=document.description,
            rules=list(document.rules),
            input_schema=document.input_schema,
            output_schema=document.output_schema,
            examples=[{"input": e.input, "output": e.output} for e in document.examples],
        )
    )


def user_template() -> tuple[str, str]:
    """The user message around the input JSON, as (prefix, suffix), rendered once."""
    text = environment().get_template("user.j2").render(input_json=_SENTINEL)
    if text.count(_SENTINEL) != 1:
        raise ValueError("templates/prompts/user.j2 must place input_json exactly once")
    prefix, suffix = text.split(_SENTINEL)
    return prefix, suffix


def render_reask(issues: list[Issue]) -> str:
    """The follow-up user message listing why the previous answer was rejected."""
    listed = [{"pointer": i.pointer or "/", "message": i.message} for i in issues]
    return environment().get_template("reask.j2").render(issues=listed)
