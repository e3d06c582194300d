"""A small OpenID Connect provider on loopback, for the SSO tests: discovery, JWKS, an
authorization endpoint that signs in its configured user at once (no consent page), and a
token endpoint that checks the PKCE verifier and answers with an RS256-signed ID token."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "specloom-test"


@dataclass
class User:
    subject: str
    email: str
    name: str = "Grace Hopper"
    email_verified: bool = True


@dataclass
class _Grant:
    challenge: str
    method: str
    redirect_uri: str
    nonce: str | None
    user: User


@dataclass
class FakeOidc:
    """The provider; `user` is who signs in next; `tamper` breaks the next ID token."""

    issuer: str = ""
    user: User = field(default_factory=lambda: User("user-1", "grace@example.com"))
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    tamper: str | None = None  # "signature", "audience", "nonce", "expired"
    grants: dict[str, _Grant] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
            ]
        )

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def _authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, 400)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "detail": "PKCE S256 needed"}, 400)
        code = secrets.token_urlsafe(16)
        self.grants[code] = _Grant(
            challenge=query["code_challenge"],
            method=query["code_challenge_method"],
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce"),
            user=self.user,
        )
        back = urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(f"{query['redirect_uri']}?{back}", status_code=302)

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_requests.append(form)
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, 400)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "detail": "PKCE mismatch"}, 400)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(grant),
            }
        )

    def _id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.user.subject,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": grant.user.email,
            "email_verified": grant.user.email_verified,
            "name": grant.user.name,
        }
        key = self.key
        tamper, self.tamper = self.tamper, None
        if tamper == "signature":
            key = RSAKey.generate_key(2048, {"kid": "k1"})  # same kid, another key
        elif tamper == "audience":
            claims["aud"] = "someone-else"
        elif tamper == "nonce":
            claims["nonce"] = "replayed"
        elif tamper == "expired":
            claims["exp"] = now - 600
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


@contextmanager
def running_oidc() -> Iterator[FakeOidc]:
    """A started provider on 127.0.0.1 (a free port) for the duration of the block."""
    fake = FakeOidc()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()[:2]
    fake.issuer = f"http://{host}:{port}"
    config = uvicorn.Config(fake.app(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake OIDC provider did not start")
        time.sleep(0.005)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
