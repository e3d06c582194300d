"""Configuration mistakes as one line an operator can act on: which setting or file, what is
wrong, what to do. Never the value itself: a misplaced secret must not reach a terminal or
a log."""

from __future__ import annotations

from pydantic import ValidationError

from app.core.settings import FLAT_NAMES, Settings


class ConfigurationError(Exception):
    """A setting or a file the process cannot start with; its message is the one line."""


def settings_problem(error: ValidationError) -> ConfigurationError:
    """The first invalid setting of `error` (raised by `Settings()`), named as in the
    environment, with what pydantic expected (not what it got)."""
    first = error.errors(include_input=False, include_url=False)[0]
    location = tuple(str(part) for part in first["loc"])
    name = _environment_name(location)
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return ConfigurationError(
        f"SPECLOOM_{name.upper()}: {first['msg']}{more}; fix it in the environment"
    )


def _environment_name(location: tuple[str, ...]) -> str:
    for flat, where in FLAT_NAMES.items():
        if where.path == location[: len(where.path)]:
            return flat
    if location and location[0] in Settings.model_fields:
        return location[0]
    return "_".join(location)
