"""Signing in through the company's OpenID Connect provider: authorization code with PKCE.

Authlib's OAuth 2 client builds the authorization URL (with the S256 code challenge, the
state and a nonce) and exchanges the code with the verifier; joserfc checks the ID token's
signature against the provider's published keys (JWKS) and its claims: issuer, audience (our
client id), expiry and the nonce of this sign-in. Any provider that publishes
`/.well-known/openid-configuration` works (Keycloak, Entra ID, Okta, Google, Dex…).

The provider's metadata and keys are fetched on first use and kept; an ID token signed with a
key not yet seen makes one refetch of the keys (the provider rotated them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.core.setting_groups import WebSettings

# What an ID token may be signed with: asymmetric algorithms only (an `HS256` token would be
# signed with our own client secret, and `none` with nothing at all).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
_TIMEOUT_S = 10.0


class SignInFailed(Exception):
    """The provider's answer could not be trusted or used; the message says why."""


@dataclass(frozen=True)
class Pending:
    """What the browser keeps (in its signed session) between leaving and coming back."""

    state: str
    verifier: str
    nonce: str
    next: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    issuer: str
    subject: str
    email: str | None
    name: str | None


@dataclass
class OidcClient:
    """One configured provider."""

    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str
    _metadata: dict[str, Any] | None = None
    _keys: KeySet | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def from_settings(cls, web: WebSettings) -> OidcClient | None:
        """The provider the settings name, or None when SSO is not configured."""
        if not (web.oidc_issuer and web.oidc_client_id):
            return None
        return cls(
            issuer=web.oidc_issuer.rstrip("/"),
            client_id=web.oidc_client_id,
            client_secret=web.oidc_client_secret,
            scopes=web.oidc_scopes,
        )

    def _oauth(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            # A public client (no secret) sends its id in the body; PKCE is its proof.
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            code_challenge_method="S256",
            scope=self.scopes,
            redirect_uri=redirect_uri,
            timeout=_TIMEOUT_S,
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once); its issuer must be ours."""
        async with self._lock:
            if self._metadata is None:
                found = await _get_json(f"{self.issuer}/.well-known/openid-configuration")
                if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                    raise SignInFailed(
                        f"the provider says its issuer is {found.get('issuer')!r}, "
                        f"not {self.issuer!r}"
                    )
                self._metadata = found
            return self._metadata

    async def start(self, redirect_uri: str, next_url: str) -> tuple[str, Pending]:
        """The provider's authorization URL to send the browser to, and what to keep."""
        endpoint = (await self.metadata())["authorization_endpoint"]
        pending = Pending(
            state=generate_token(32),
            verifier=generate_token(64),  # 43..128 characters (RFC 7636)
            nonce=generate_token(32),
            next=next_url,
        )
        async with self._oauth(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint, state=pending.state, code_verifier=pending.verifier, nonce=pending.nonce
            )
        return str(url), pending

    async def finish(self, *, code: str, pending: Pending, redirect_uri: str) -> Identity:
        """Exchange the code (with the PKCE verifier) and verify the ID token."""
        endpoint = (await self.metadata())["token_endpoint"]
        try:
            async with self._oauth(redirect_uri) as client:
                token = await client.fetch_token(
                    endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                )
        except Exception as exc:  # authlib raises its own errors and httpx's alike
            raise SignInFailed(f"the provider refused the code: {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the provider answered without an ID token (is 'openid' a scope?)")
        claims = await self.verify(id_token, nonce=pending.nonce)
        email = claims.get("email") if claims.get("email_verified", True) is not False else None
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        )

    async def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature (JWKS) and claims check out."""
        keys = await self._key_set(refresh=False)
        try:
            try:
                decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except JoseError:  # perhaps a key rotated in since we fetched them: look once more
                decoded = jwt.decode(id_token, await self._key_set(refresh=True), ALGORITHMS)
            registry = jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise SignInFailed(f"the ID token was refused: {exc.description or exc}") from None
        return decoded.claims

    async def _key_set(self, *, refresh: bool) -> KeySet:
        if self._keys is None or refresh:
            uri = (await self.metadata())["jwks_uri"]
            self._keys = KeySet.import_key_set(cast(Any, await _get_json(uri)))
        return self._keys


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT_S) as http:
            answer = await http.get(url)
            answer.raise_for_status()
            body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInFailed(f"could not read {url}: {exc}") from None
    if not isinstance(body, dict):
        raise SignInFailed(f"{url} did not answer with a JSON object")
    return body
