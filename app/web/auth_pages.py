"""Signing in (login link or admin key) and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.core.database import SessionDep
from app.security import audit, keys
from app.security.auth import PUBLIC
from app.security.store import KeyStore
from app.web.deps import CsrfDep, redirect, render
from app.web.session import (
    LinkRefused,
    consume_login_token,
    end_session,
    link_target,
    load_session,
)

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[PUBLIC])


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a page of this app, never another site."""
    if value and value.startswith("/ui") and not value.startswith("//"):
        return value
    return "/ui"


@router.get("/login")
async def login_page(
    request: Request, session: SessionDep, token: str | None = None, next: str | None = None
) -> Response:
    """The sign-in form; with `?token=` (the link `specloom serve` prints) signs in at once."""
    if token is None:
        return render(request, "ui/login.html", {"next": safe_next(next)})
    try:
        nonce = await consume_login_token(session, request, token)
    except LinkRefused as exc:
        return render(request, "ui/login.html", {"next": "/ui", "error": str(exc)}, status_code=403)
    store: KeyStore = request.app.state.keys
    load_session(request).sign_in(keys.hash_secret(store.admin_key))
    await audit.record(
        session,
        actor="bootstrap-admin",
        action="ui.signed_in",
        target=link_target(nonce),
        details={"via": "login link"},
    )
    return redirect(request, safe_next(next))


@router.post("/login", dependencies=[CsrfDep])
async def login(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui",
) -> Response:
    """Sign in with a key that has a role; invoke-only keys may call agents but not use the
    web app."""
    store: KeyStore = request.app.state.keys
    principal = await store.authenticate(key.strip()) if key.strip() else None
    if principal is None:
        return render(
            request,
            "ui/login.html",
            {"next": safe_next(next), "error": "That key is not valid (unknown or revoked)."},
            status_code=401,
        )
    if principal.role is None:
        return render(
            request,
            "ui/login.html",
            {
                "next": safe_next(next),
                "error": "That key has no role (viewer, author, publisher or admin): "
                "it can call agents, not sign in here.",
            },
            status_code=403,
        )
    load_session(request).sign_in(keys.hash_secret(key.strip()))
    await audit.record(
        session,
        actor=principal.actor,
        action="ui.signed_in",
        target=f"key:{principal.key_id}" if principal.key_id else "bootstrap-admin",
        details={"via": "admin key"},
    )
    return redirect(request, safe_next(next))


@router.post("/logout", dependencies=[CsrfDep])
async def logout(request: Request, session: SessionDep) -> Response:
    """Sign out: this session ends everywhere, copies of its cookie included."""
    ended = load_session(request).sign_out()
    if ended is not None:
        max_age_s = request.app.state.settings.web.session_max_age_s
        await end_session(session, ended, max_age_s=max_age_s)
    return redirect(request, "/ui/login")
