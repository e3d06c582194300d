"""Web sessions and one-time login links, both signed with itsdangerous.

The session is a signed (not encrypted) cookie holding the SHA-256 of the key the user
signed in with (or the id of the person who signed in), a random session id and a CSRF token;
never the key itself. Each request looks the digest (or the person) up again, so revoking the
key or removing the person ends their web sessions too, and checks that the session id was
not signed out: signing out records it (`ended_web_session`), so a copy of the cookie stops
working at once, in every process.

A login link carries a random nonce signed with the same secret and a timestamp: it expires
after `login_link_ttl_s`, and it works once, because using it writes a `ui.signed_in` audit
event naming the nonce, under a transaction-scoped advisory lock (any number of processes
agree, and no extra table is needed: the audit trail is the record of used links).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.settings import Settings
from app.models import AuditEvent, EndedWebSession

COOKIE = "specloom_session"
_SESSION_SALT = "specloom-web-session"
_LINK_SALT = "specloom-login-link"


def session_secret(settings: Settings, admin_key: str) -> str:
    """The signing secret: configured, or derived from the admin key (stable across
    processes and restarts; changing the admin key signs everyone out)."""
    if settings.web.session_secret:
        return settings.web.session_secret
    return hmac.new(admin_key.encode(), b"specloom-web-v1", hashlib.sha256).hexdigest()


def _serializer(secret: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


@dataclass
class WebSession:
    """What the cookie holds: the signed-in key's digest (if any) and the CSRF token."""

    csrf: str
    key_digest: str | None = None
    sid: str | None = None  # set while signed in
    person_id: str | None = None  # a person's session (else a key's)
    # An SSO sign-in under way: its state, PKCE verifier, nonce and where to go after.
    pending_sso: dict[str, str] | None = None
    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fresh(cls) -> WebSession:
        return cls(csrf=secrets.token_urlsafe(32), changed=True)

    def sign_in(self, key_digest: str | None = None, *, person_id: str | None = None) -> None:
        # A new CSRF token at sign-in: a token planted before it is worthless after.
        self.key_digest = key_digest
        self.person_id = person_id
        self.sid = secrets.token_urlsafe(32)
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> str | None:
        """Forget the signed-in key; returns the session id that ended (to record)."""
        ended, self.sid = self.sid, None
        self.key_digest = None
        self.person_id = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True
        return ended


def _secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return session_secret(settings, request.app.state.admin_key)


def load_session(request: Request) -> WebSession:
    """The request's session (a fresh anonymous one when the cookie is absent or forged)."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, WebSession):
        return cached
    settings: Settings = request.app.state.settings
    raw = request.cookies.get(COOKIE)
    session = WebSession.fresh()
    if raw:
        try:
            data = _serializer(_secret(request), _SESSION_SALT).loads(
                raw, max_age=settings.web.session_max_age_s
            )
        except (BadSignature, SignatureExpired):
            data = None
        if isinstance(data, dict) and isinstance(data.get("c"), str):
            digest, sid, person, sso = data.get("k"), data.get("s"), data.get("p"), data.get("o")
            session = WebSession(
                csrf=data["c"],
                key_digest=digest if isinstance(digest, str) else None,
                sid=sid if isinstance(sid, str) else None,
                person_id=person if isinstance(person, str) else None,
                pending_sso=sso if isinstance(sso, dict) else None,
            )
    request.state.web_session = session
    return session


def save_session(request: Request, response: Response) -> None:
    """Set the cookie on `response` when the session is new or changed."""
    session = load_session(request)
    if not session.changed:
        return
    settings: Settings = request.app.state.settings
    value = _serializer(_secret(request), _SESSION_SALT).dumps(
        {
            "k": session.key_digest,
            "s": session.sid,
            "c": session.csrf,
            "p": session.person_id,
            "o": session.pending_sso,
        }
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.web.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def make_login_token(settings: Settings, admin_key: str) -> str:
    """A signed, timestamped nonce for a one-time login link."""
    nonce = secrets.token_urlsafe(16)
    return str(_serializer(session_secret(settings, admin_key), _LINK_SALT).dumps({"n": nonce}))


def login_url(settings: Settings, admin_key: str, base: str) -> str:
    """The link `specloom serve` prints: open it to be signed in as the admin."""
    return f"{base}/ui/login?token={make_login_token(settings, admin_key)}"


class LinkRefused(Exception):
    """The login link is forged, expired or already used."""


async def consume_login_token(session: AsyncSession, request: Request, token: str) -> str:
    """Check a login link's token and mark it used (in this transaction); returns its nonce."""
    settings: Settings = request.app.state.settings
    try:
        data = _serializer(_secret(request), _LINK_SALT).loads(
            token, max_age=settings.web.login_link_ttl_s
        )
    except SignatureExpired:
        raise LinkRefused("this login link has expired; restart the server for a new one") from None
    except BadSignature:
        raise LinkRefused("this login link is not valid") from None
    nonce = data.get("n") if isinstance(data, dict) else None
    if not isinstance(nonce, str):
        raise LinkRefused("this login link is not valid")
    target = link_target(nonce)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": target})
    used = await session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "ui.signed_in", AuditEvent.target == target
        )
    )
    if used is not None:
        raise LinkRefused("this login link was already used; sign in with the admin key")
    return nonce


def link_target(nonce: str) -> str:
    """How the audit trail names a login link (its nonce is not a secret once used)."""
    return f"login-link:{hashlib.sha256(nonce.encode()).hexdigest()[:32]}"


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


async def end_session(session: AsyncSession, sid: str, *, max_age_s: int) -> None:
    """Record that the web session `sid` was signed out (in this transaction), and forget
    the records older than a session can live: their cookies have expired anyway."""
    await session.execute(
        pg_insert(EndedWebSession).values(id=_sid_hash(sid)).on_conflict_do_nothing()
    )
    await session.execute(
        delete(EndedWebSession).where(
            EndedWebSession.ended_at < func.clock_timestamp() - timedelta(seconds=max_age_s)
        )
    )


async def session_ended(sessionmaker: async_sessionmaker[AsyncSession], sid: str) -> bool:
    """Whether the web session `sid` was signed out."""
    async with sessionmaker() as session:
        found = await session.scalar(
            select(EndedWebSession.id).where(EndedWebSession.id == _sid_hash(sid))
        )
    return found is not None
