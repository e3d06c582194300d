"""People in the web app: joining through an invitation (a password, or the company's SSO),
signing in with a password or SSO, and the admins' People page."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.database import SessionDep
from app.core.errors import ProblemError
from app.models import Person
from app.security import audit, people
from app.security.auth import PUBLIC
from app.security.oidc import OidcClient, Pending, SignInFailed
from app.security.people_routes import InvitationCreate, invitation_link
from app.security.roles import ROLES, Role
from app.web.auth_pages import safe_next
from app.web.deps import CsrfDep, UserDep, page, redirect, render
from app.web.session import load_session, save_session

router = APIRouter(prefix="/ui", include_in_schema=False)

MIN_PASSWORD = 10
_ROLE_CHOICES: dict[str, Role] = {role: role for role in ROLES}


async def _signed_in_as(
    request: Request, session: AsyncSession, person: Person, via: str, next_url: str
) -> Response:
    load_session(request).sign_in(person_id=str(person.id))
    await audit.record(
        session,
        actor=person.email,
        action="ui.signed_in",
        target=f"person:{person.email}",
        details={"via": via},
    )
    return redirect(request, safe_next(next_url))


@router.get("/invite", dependencies=[PUBLIC])
async def invite_page(request: Request, session: SessionDep, token: str = "") -> Response:
    """The join form of an invitation: a name and a password (or SSO, when configured)."""
    try:
        invitation = await people.open_invitation(session, token)
    except people.InvitationRefused as exc:
        return render(request, "ui/invite.html", {"error": exc.detail}, status_code=410)
    return render(request, "ui/invite.html", {"invitation": invitation, "token": token})


@router.post("/invite", dependencies=[CsrfDep, PUBLIC])
async def accept_invitation(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=people.NAME_MAX)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password_again: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Join: the account is made with the invited role, and its browser signed in."""
    try:
        invitation = await people.open_invitation(session, token)
    except people.InvitationRefused as exc:
        return render(request, "ui/invite.html", {"error": exc.detail}, status_code=410)
    problem = _password_problem(password, password_again)
    if problem is not None:
        context = {"invitation": invitation, "token": token, "error": problem, "name": name}
        return render(request, "ui/invite.html", context, status_code=422)
    person = await people.accept(session, invitation, name=name.strip(), password=password)
    return await _signed_in_as(request, session, person, "invitation", "/ui")


def _password_problem(password: str, again: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"Choose a password of at least {MIN_PASSWORD} characters."
    if password != again:
        return "The two passwords differ."
    return None


@router.post("/login/password", dependencies=[CsrfDep, PUBLIC])
async def password_login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui",
) -> Response:
    """Sign in with an email address and password."""
    person = await people.check_password(session, email, password)
    if person is None:
        context = {"next": safe_next(next), "error": "Wrong email address or password."}
        return render(request, "ui/login.html", context, status_code=401)
    return await _signed_in_as(request, session, person, "password", next)


def _oidc(request: Request) -> OidcClient | None:
    client: OidcClient | None = request.app.state.oidc
    return client


def _callback_url(request: Request) -> str:
    return str(request.url_for("sso_callback"))


@router.get("/sso/start", dependencies=[PUBLIC])
async def sso_start(request: Request, next: str = "/ui") -> Response:
    """Off to the company's provider (authorization code with PKCE)."""
    client = _oidc(request)
    if client is None:
        return render(
            request, "ui/login.html", {"error": "SSO is not configured."}, status_code=404
        )
    try:
        url, pending = await client.start(_callback_url(request), safe_next(next))
    except SignInFailed as exc:
        return render(request, "ui/login.html", {"error": f"SSO: {exc}"}, status_code=502)
    session = load_session(request)
    session.pending_sso = asdict(pending)
    session.changed = True
    response = RedirectResponse(url, status_code=303)
    save_session(request, response)
    return response


@router.get("/sso/callback", name="sso_callback", dependencies=[PUBLIC])
async def sso_callback(
    request: Request, session: SessionDep, code: str = "", state: str = "", error: str = ""
) -> Response:
    """Back from the provider: the code is exchanged, the ID token checked, and the person
    (known, or joining through a pending invitation for their email address) signed in."""
    client, web = _oidc(request), load_session(request)
    pending = Pending(**web.pending_sso) if web.pending_sso else None
    web.pending_sso, web.changed = None, True  # one use, whatever happens next
    refused = _sso_refusal(client, pending, code, state, error)
    if refused is None and client is not None and pending is not None:
        try:
            identity = await client.finish(
                code=code, pending=pending, redirect_uri=_callback_url(request)
            )
        except SignInFailed as exc:
            refused = f"SSO sign-in failed: {exc}"
        else:
            person = await people.for_oidc(session, **asdict(identity))
            if person is not None:
                return await _signed_in_as(request, session, person, "sso", pending.next)
            refused = (
                f"{identity.email or identity.subject} has no account here; "
                "ask an admin for an invitation"
            )
    return render(request, "ui/login.html", {"error": refused, "next": "/ui"}, status_code=403)


def _sso_refusal(
    client: OidcClient | None, pending: Pending | None, code: str, state: str, error: str
) -> str | None:
    if client is None:
        return "SSO is not configured."
    if error:
        return f"The provider refused the sign-in: {error}"
    if pending is None or not state or state != pending.state or not code:
        return "This SSO answer does not belong to a sign-in started here; start again."
    return None


@router.get("/people", dependencies=[page("admin")])
async def people_page(request: Request, user: UserDep, session: SessionDep) -> Response:
    """Everyone with an account, pending invitations, and the form to invite someone."""
    return await _people_page(request, session)


async def _people_page(
    request: Request, session: AsyncSession, *, status_code: int = 200, **extra: object
) -> Response:
    context = {
        "people": await people.list_people(session),
        "invitations": await people.list_invitations(session),
        "roles": ROLES,
        **extra,
    }
    return render(request, "ui/people.html", context, status_code=status_code)


@router.post("/people/invite", dependencies=[CsrfDep, page("admin")])
async def invite_person(
    request: Request,
    user: UserDep,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=20)] = "viewer",
) -> Response:
    """Invite someone; the one-time link is shown this once."""
    try:
        body = InvitationCreate.model_validate({"email": email.strip(), "role": role})
        _, token = await people.invite(session, email=body.email, role=body.role, principal=user)
    except (ValidationError, ProblemError) as exc:
        await session.rollback()
        message = (
            exc.detail if isinstance(exc, ProblemError) else "Give an email address and a role."
        )
        return await _people_page(request, session, error=message, status_code=422)
    return await _people_page(request, session, link=invitation_link(request, token), email=email)


@router.post("/people/{person_id:uuid}", dependencies=[CsrfDep, page("admin")])
async def change_person(
    request: Request,
    person_id: uuid.UUID,
    user: UserDep,
    session: SessionDep,
    role: Annotated[str, Form(max_length=20)] = "",
    access: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Change a person's role, or remove or restore their access."""
    disabled = {"remove": True, "restore": False}.get(access)
    chosen = _ROLE_CHOICES.get(role)
    await people.change(session, person_id, role=chosen, disabled=disabled, principal=user)
    return redirect(request, "/ui/people")
