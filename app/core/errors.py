"""Errors as RFC 9457 problem+json: one base class, one renderer, every status explained."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://specloom.dev/problems/"


@dataclass(frozen=True)
class Issue:
    """One problem in a document: where (JSON Pointer) and what; `check` names the spec's
    check that found it, when a check did."""

    pointer: str
    message: str
    check: str | None = None


def pointer(*parts: str | int) -> str:
    """A JSON Pointer (RFC 6901) from path parts; a lone surrogate in a part is written as
    its escape (`\\ud800`), so a pointer to a key that is not Unicode text can itself be
    sent, logged and stored."""
    return "".join("/" + _token(str(p)) for p in parts)


def _token(part: str) -> str:
    token = part.replace("~", "~0").replace("/", "~1")
    if token.isascii():
        return token
    return token.encode("utf-8", "backslashreplace").decode("utf-8")


class ProblemIssue(BaseModel):
    """One invalid value: where (JSON Pointer into the request body) and why; `check` names
    the spec's check that refused it."""

    pointer: str
    message: str
    check: str | None = None


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemIssue] | None = None
    retryable: bool = False


class ProblemError(Exception):
    """A domain error that knows its HTTP status; raised by services, rendered by one handler."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        issues: Iterable[Issue] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issues = list(issues) if issues is not None else None
        self.headers = headers or {}
        self.extra = extra or {}

    def problem(self, request_id: str | None = None) -> dict[str, Any]:
        """The problem+json body of this error."""
        body = Problem(
            type=TYPE_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=self.detail,
            request_id=request_id,
            retryable=self.retryable,
            errors=[
                ProblemIssue(pointer=i.pointer, message=i.message, check=i.check)
                for i in self.issues
            ]
            if self.issues is not None
            else None,
        ).model_dump(exclude_none=True)
        body.update(self.extra)
        return body


class NotFound(ProblemError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class InvalidInput(ProblemError):
    status = 422
    slug = "invalid-input"
    title = "Invalid input"


class BadRequest(ProblemError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class UpstreamInvalidOutput(ProblemError):
    status = 502
    slug = "invalid-model-output"
    title = "The models gave no valid output"
    retryable = True


class ChecksFailed(ProblemError):
    # The output kept the schema but broke the spec's declared checks after every re-ask,
    # fallback and escalation: it is never returned.
    status = 502
    slug = "checks-failed"
    title = "The models' output failed the spec's checks"
    retryable = True


class OutputTruncated(ProblemError):
    # The same request meets the same output limit: retrying it as is will not help.
    status = 502
    slug = "output-truncated"
    title = "The model's output was cut off at its output limit"


class NoModelAvailable(ProblemError):
    status = 503
    slug = "no-model-available"
    title = "No model available"
    retryable = True


class DatabaseUnavailable(ProblemError):
    status = 503
    slug = "database-unavailable"
    title = "Database unavailable"
    retryable = True


# How long a caller should wait before trying again when the database is out of reach: a
# restart or failover takes seconds, and a pool reconnects on the first request after it.
DATABASE_RETRY_AFTER_S = 5


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the database is out of reach, not that a
    statement was wrong: lost or refused connections, a pool that cannot connect in time."""
    import psycopg
    from sqlalchemy import exc as sa

    if isinstance(exc, BaseExceptionGroup):
        return any(database_unreachable(inner) for inner in exc.exceptions)
    if isinstance(exc, sa.DBAPIError):
        return exc.connection_invalidated or (
            exc.orig is not None and database_unreachable(exc.orig)
        )
    return isinstance(
        exc,
        psycopg.OperationalError | psycopg.InterfaceError | sa.TimeoutError | ConnectionError,
    )


class DeadlineExceeded(ProblemError):
    status = 504
    slug = "deadline-exceeded"
    title = "Deadline exceeded"
    retryable = True


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSONResponse with the problem+json media type."""
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route: each error status documented as problem+json."""
    out: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        out[error.status] = {
            "description": error.title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = []
    for method in HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, ours, FastAPI's and unexpected ones, as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.problem(_request_id(request)), exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        issues = [_issue_from_pydantic(err) for err in exc.errors()]
        body_error: ProblemError = InvalidInput("the request is not valid", issues=issues)
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            body_error = BadRequest("the request body is not valid JSON", issues=issues)
        return problem_response(body_error.status, body_error.problem(_request_id(request)))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        title = titles.get(exc.status_code, "HTTP error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        body = Problem(
            type=TYPE_BASE + title.lower().replace(" ", "-"),
            title=title,
            status=exc.status_code,
            detail=detail,
            request_id=_request_id(request),
        ).model_dump(exclude_none=True)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(exc.status_code, body, headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = _request_id(request)
        if database_unreachable(exc):
            return on_outage(request_id, exc)
        log.exception("unhandled error", request_id=request_id, path=request.url.path)
        body = Problem(
            type=TYPE_BASE + "internal-error",
            title="Internal error",
            status=500,
            detail=f"an unexpected error occurred; quote request id {request_id} when reporting it",
            request_id=request_id,
            retryable=True,
        ).model_dump(exclude_none=True)
        return problem_response(500, body)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        # Handled here rather than by the catch-all, which re-raises to the server after
        # answering: an outage is an answer (503), not a crash to log with a traceback.
        if database_unreachable(exc):
            return on_outage(_request_id(request), exc)
        return await on_unexpected(request, exc)

    app.add_exception_handler(ProblemError, on_problem)
    for kind in _database_errors():
        app.add_exception_handler(kind, on_database)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def on_outage(request_id: str | None, exc: BaseException) -> JSONResponse:
    """503 with Retry-After: the database is out of reach (logged without a traceback)."""
    log.warning("database unavailable", request_id=request_id, error=str(exc)[:200])
    outage = DatabaseUnavailable(
        "the database is out of reach; try again shortly",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )
    return problem_response(outage.status, outage.problem(request_id), outage.headers)


def _database_errors() -> tuple[type[Exception], ...]:
    import psycopg
    from sqlalchemy import exc as sa

    return (sa.DBAPIError, sa.TimeoutError, psycopg.Error, ConnectionError)


def _issue_from_pydantic(err: Any) -> Issue:
    loc = list(err.get("loc", ()))
    # FastAPI prefixes the location with where the value came from; a pointer is into the body.
    where = (
        loc.pop(0) if loc and loc[0] in ("body", "query", "path", "header", "cookie") else "body"
    )
    # Pydantic names the union branch it tried ("literal['api', …]", "function-after[…]"):
    # not a place in the request, so it is left out of the pointer.
    loc = [part for part in loc if not _BRANCH.match(str(part))]
    ptr = pointer(*loc)
    if where != "body":
        ptr = f"{where}:{ptr or '/'}"
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return Issue(ptr, message)


_BRANCH = re.compile(
    r"^(literal|function-(after|before|wrap|plain)|is-instance|tagged-union|json-or-python"
    r"|lax-or-strict|chain)\["
)
