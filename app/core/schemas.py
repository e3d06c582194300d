"""Request-side types shared by every router: strict bodies, timestamps and cursors.

The OpenAPI document is a contract for requests too: a body the document calls invalid
(`"force": 0` for a boolean, `"1"` for an integer) is refused, not coerced, and a query
timestamp is an ISO 8601 date-time, never a bare number read as seconds since 1970.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict

# A label's name (`staging`, `eu-customers`), in paths, query parameters, headers and keys.
LABEL_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"


class RequestBody(BaseModel):
    """A JSON request body: unknown fields and lax type coercions are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected an ISO 8601 date-time such as 2026-01-31T12:00:00Z")


Timestamp = Annotated[datetime, BeforeValidator(_iso_datetime)]
"""A date-time query parameter: ISO 8601 only."""

Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_=-]+$",
        description="`next_cursor` of the previous page.",
    ),
]
"""An opaque keyset-pagination cursor, exactly as a previous page gave it out."""

Filter = Annotated[str | None, Query(min_length=1, max_length=200)]
"""An optional exact-match text filter (an empty string is not a filter)."""
