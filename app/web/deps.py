"""What every page needs: the signed-in person or key, its role, the CSRF check, and
rendering."""

from __future__ import annotations

import hmac
import inspect
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.core.errors import ProblemError
from app.security import people
from app.security.auth import refuse
from app.security.roles import Declaration, Requirement
from app.security.store import KeyStore, Principal
from app.web import filters
from app.web.session import load_session, save_session, session_ended

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
filters.install(templates.env)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """Nobody signed in: pages redirect to the login form."""


class CsrfRefused(ProblemError):
    status = 403
    slug = "csrf-refused"
    title = "CSRF token missing or wrong"


async def web_user(request: Request) -> Principal:
    """Dependency: who is signed in to this browser, a person or a key with a role (else a
    redirect to the login form)."""
    cached = getattr(request.state, "web_user", None)
    if isinstance(cached, Principal):
        return cached
    session = load_session(request)
    if session.key_digest is None and session.person_id is None:
        raise SignInRequired
    if session.sid is None or await session_ended(request.app.state.sessionmaker, session.sid):
        session.sign_out()  # signed out elsewhere (or a cookie from before session ids)
        raise SignInRequired
    principal = await _signed_in(request, session.person_id, session.key_digest)
    if principal is None or principal.role is None:  # revoked, removed, or invoke only
        session.sign_out()
        raise SignInRequired
    request.state.web_user = principal
    return principal


async def _signed_in(request: Request, person: str | None, digest: str | None) -> Principal | None:
    if person is not None:
        return await people.principal_of(request.app.state.sessionmaker, person)
    store: KeyStore = request.app.state.keys
    return await store.by_digest(digest) if digest is not None else None


async def csrf_checked(request: Request) -> None:
    """Dependency: a state-changing request carries the session's CSRF token (403 otherwise).

    Forms send it as a hidden field, htmx as the X-CSRF-Token header (set once on <body>).
    """
    session = load_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfRefused("this form has no valid CSRF token; reload the page and try again")


UserDep = Annotated[Principal, Depends(web_user)]
CsrfDep = Depends(csrf_checked)


class PageRole(Declaration):
    """The dependency behind `page(need)`: the signed-in user's role meets `need` (else 403,
    an error page for people)."""

    def __init__(self, need: Requirement) -> None:
        self.required = need

    async def __call__(self, user: UserDep) -> Principal:
        if not user.has(self.required):
            raise refuse(user, self.required)
        return user


def page(need: Requirement) -> Any:
    """`dependencies=[page("author")]`: the one place a page says which role it needs."""
    return Depends(PageRole(need))


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page under templates/ui/ with the session's CSRF token in the context."""
    session = load_session(request)
    user = getattr(request.state, "web_user", None)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "csrf_token": session.csrf,
            "signed_in": session.key_digest is not None or session.person_id is not None,
            "user": user,
            # `may("publisher")`: show only what the signed-in role may do
            "may": lambda need: user is not None and user.has(need),
            "sso_name": _sso_name(request),
            "offline_model": _offline(request),
            **(context or {}),
        },
        status_code=status_code,
        headers=headers,
    )
    save_session(request, response)
    return response


def _sso_name(request: Request) -> str | None:
    """The provider's name for the SSO button, when SSO is configured."""
    if getattr(request.app.state, "oidc", None) is None:
        return None
    name: str = request.app.state.settings.web.oidc_name
    return name


def _offline(request: Request) -> bool:
    """Whether the offline model answers every call (no models file is configured)."""
    runtime = getattr(request.app.state, "runtime", None)
    return bool(runtime is not None and runtime.services.catalog.offline)


def redirect(request: Request, url: str) -> Response:
    """303 to `url` after a successful POST (htmx follows it with HX-Location)."""
    response: Response
    if request.headers.get("hx-request"):
        response = Response(status_code=204, headers={"HX-Location": url})
    else:
        response = RedirectResponse(url, status_code=303)
    save_session(request, response)
    return response


def install_handlers(app: FastAPI) -> None:
    """Signed-out page requests go to the login form (htmx requests get 401 + HX-Redirect)."""

    async def on_sign_in_required(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = "/ui/login?next=" + quote(target, safe="")
        response: Response
        if request.headers.get("hx-request"):
            response = Response(status_code=401, headers={"HX-Redirect": login})
        else:
            response = RedirectResponse(login, status_code=303)
        save_session(request, response)
        return response

    app.add_exception_handler(SignInRequired, on_sign_in_required)

    # A page that fails (an unknown agent, version or execution) answers with an error page
    # for people; everything else keeps the problem+json handler.
    api_handler = app.exception_handlers[ProblemError]

    async def on_problem(request: Request, exc: Exception) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if (
            isinstance(exc, ProblemError)
            and request.url.path.startswith("/ui")
            and request.method == "GET"
            and wants_html
        ):
            return render(
                request,
                "ui/error.html",
                {"title": exc.title, "detail": exc.detail, "back": "/ui"},
                status_code=exc.status,
            )
        answer = api_handler(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(ProblemError, on_problem)
