"""Input hardening before any route runs: body size, media type, and well-behaved JSON.

A pure ASGI middleware, so it sees the body as it streams in: a `Content-Length` above the
limit is refused before anything is read, and a chunked body is refused as soon as the
bytes received pass the limit. The body is then handed on to the app unchanged.

For the JSON APIs (`/api/…`, `/v1/…`) a non-empty body must also be declared as JSON (415
otherwise) and be JSON that every later stage can handle: not malformed (400), no NaN or
Infinity (400: they are not JSON), nested at most `max_depth` deep, no number literal
longer than 64 characters, no NUL character (Postgres cannot store one) and no lone UTF-16
surrogate (`"\\ud800"`: no UTF-8 encoder, hence neither the response nor the execution record,
can write one) (422, with a pointer to the string). Python's parser would otherwise accept
NaN, turn 1e999 into infinity, and recurse until a RecursionError on deep nesting. A NUL
(`%00`) in the query string is a 400 for the same reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_JSON, TYPE_BASE, pointer
from app.core.setting_groups import BodyLimits

JSON_PREFIXES = ("/api/", "/v1/")
MAX_NUMBER_CHARS = 64
# scope["state"] key of the body this middleware already parsed and checked.
PARSED_BODY = "parsed_json_body"
# Agent calls may also be multipart/form-data (file uploads), up to their own limit.
_MULTIPART_PATH = re.compile(r"^/v1/agents/[^/]+$")


# A JSON-escaped surrogate (\\uD800-\\uDFFF) or one encoded as UTF-8 bytes (which `json.loads`
# lets through with "surrogatepass"): only a body holding one can parse into a lone surrogate,
# so strings are checked one by one only then. A false hint (an escaped backslash before
# "ud800", a valid pair) costs one walk and rejects nothing.
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


class _Reject(Exception):
    def __init__(self, status: int, title: str, detail: str, at: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.pointer = at


class BodyLimitMiddleware:
    """Refuse oversized, mislabelled or unruly request bodies with problem+json."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.max_bytes = limits.max_body_bytes
        self.max_upload_bytes = limits.max_upload_bytes
        self.max_depth = limits.max_json_depth
        self.max_string_chars = limits.max_string_chars

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if scope["path"].startswith(JSON_PREFIXES) and b"%00" in scope["query_string"]:
                raise _Reject(400, "Bad request", "query parameters may not contain NUL (%00)")
            upload = self._is_upload(scope)
            limit = self.max_upload_bytes if upload else self.max_bytes
            body, ended = await self._read(scope, receive, limit)
            if body and not upload and scope["path"].startswith(JSON_PREFIXES):
                # Handed on so the route does not parse the same body a second time.
                scope.setdefault("state", {})[PARSED_BODY] = _check_json(
                    scope, body, self.max_depth, self.max_string_chars
                )
        except _Reject as reject:
            await _send_problem(scope, send, reject)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            if ended is not None:  # the disconnect read while buffering, handed on once asked
                return ended
            return await receive()

        await self.app(scope, replay, send)

    def _is_upload(self, scope: Scope) -> bool:
        """A multipart/form-data agent call: its route parses it, within `max_upload_bytes`."""
        if not _MULTIPART_PATH.match(scope["path"]):
            return False
        return _content_type(scope) == "multipart/form-data"

    async def _read(
        self, scope: Scope, receive: Receive, limit: int
    ) -> tuple[bytes, Message | None]:
        """The whole body, and the disconnect message if the client left while sending."""
        too_large = _Reject(
            413, "Payload too large", f"the request body is larger than {limit} bytes"
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise _Reject(400, "Bad request", "Content-Length is not a number") from None
                if declared > limit:
                    raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                return b"".join(chunks), message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return str(value.decode("latin-1").split(";", 1)[0].strip().lower())
    return ""


class JsonRejected(Exception):
    """JSON that `checked_json` refuses: a status (400 or 422) and why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def checked_json(body: bytes, *, max_depth: int, max_string_chars: int) -> Any:
    """Parse JSON with the same hardening as request bodies (e.g. a multipart `input` part)."""
    try:
        return _parse_json(body, max_depth, max_string_chars)
    except _Reject as reject:
        raise JsonRejected(reject.status, reject.detail) from None


def _check_json(scope: Scope, body: bytes, max_depth: int, max_string_chars: int) -> Any:
    content_type = _content_type(scope)
    if not (content_type == "application/json" or content_type.endswith("+json")):
        raise _Reject(
            415,
            "Unsupported media type",
            f"send the body as application/json (got {content_type or 'no Content-Type'})",
        )
    return _parse_json(body, max_depth, max_string_chars)


def _parse_json(body: bytes, max_depth: int, max_string_chars: int) -> Any:
    try:
        value = json.loads(
            body,
            parse_constant=_no_constant,
            parse_float=_bounded_float,
            parse_int=_bounded_int,
        )
    except _Reject:
        raise
    except RecursionError:
        raise _Reject(422, "Invalid input", f"the JSON is nested deeper than {max_depth}") from None
    except ValueError:
        raise _Reject(400, "Bad request", "the request body is not valid JSON") from None
    _inspect(value, max_depth, max_string_chars, _SURROGATE_HINT.search(body) is not None)
    return value


def _no_constant(name: str) -> Any:
    raise _Reject(400, "Bad request", f"{name} is not valid JSON")


def _bounded_float(literal: str) -> float:
    value = float(literal)
    if len(literal) > MAX_NUMBER_CHARS or value in (float("inf"), float("-inf")):
        raise _Reject(422, "Invalid input", f"the number {literal[:20]}… is too large")
    return value


def _bounded_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _Reject(422, "Invalid input", f"the number {literal[:20]}… is too large")
    return int(literal)


def _inspect(value: Any, max_depth: int, max_string_chars: int, surrogates: bool) -> None:
    """Reject nesting deeper than `max_depth`, strings (keys included) longer than
    `max_string_chars`, NUL characters and (when the body may hold one) lone surrogates,
    without recursion.

    Postgres text and jsonb cannot hold U+0000, and no UTF-8 encoder writes a lone surrogate:
    such a string would fail when stored or answered (a 500, or an execution record the
    writer can never insert), so it is refused up front.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item, max_string_chars, surrogates)
            if problem is not None:
                raise _Reject(422, "Invalid input", problem, _pointer_of(value, item))
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise _Reject(422, "Invalid input", f"the JSON is nested deeper than {max_depth}")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _string_problem(text: str, max_chars: int, surrogates: bool) -> str | None:
    if "\x00" in text:
        return "strings may not contain NUL (\\u0000)"
    if len(text) > max_chars:
        return f"a string is longer than {max_chars} characters"
    if surrogates and not text.isascii() and not _encodable(text):
        return "strings may not contain a lone surrogate (\\ud800-\\udfff)"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_at(value: Any) -> tuple[str, str] | None:
    """Where the first string (a value, or a key: the member it names) in `value` holds what
    no record or answer can carry, a NUL or a lone surrogate, and what it is; None when
    every string is storable text."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            why = _unstorable(item)
            if why is not None:
                return pointer(*path), why
        elif isinstance(item, dict):
            for key, child in item.items():
                why = _unstorable(key)
                if why is not None:
                    return pointer(*path, key), why
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(item))
    return None


def _unstorable(text: str) -> str | None:
    if "\x00" in text:
        return "NUL (\\u0000) cannot be stored as text"
    if not text.isascii() and not _encodable(text):
        return "a lone surrogate (\\ud800-\\udfff) is not Unicode text"
    return None


def _pointer_of(root: Any, target: str) -> str:
    """The JSON Pointer of `target` (a string value or key) in `root`: only on rejection, so
    the hot path builds no paths. A key's pointer is that of the member it names."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        item, path = stack.pop()
        if item is target:
            return pointer(*path)
        if isinstance(item, dict):
            for key, child in item.items():
                if key is target:
                    return pointer(*path, key)
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(item))
    return ""


async def _send_problem(scope: Scope, send: Send, reject: _Reject) -> None:
    request_id = scope.get("state", {}).get("request_id")
    problem: dict[str, Any] = {
        "type": TYPE_BASE + reject.title.lower().replace(" ", "-"),
        "title": reject.title,
        "status": reject.status,
        "detail": reject.detail,
        "retryable": False,
    }
    if reject.pointer is not None:
        problem["errors"] = [{"pointer": reject.pointer, "message": reject.detail}]
    if isinstance(request_id, str):
        problem["request_id"] = request_id
    payload = json.dumps(problem).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    # The unread rest of an oversized body is not drained: closing is the server's job.
    await send({"type": "http.response.start", "status": reject.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
