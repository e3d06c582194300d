"""Who is calling and what they may do: bearer keys with scopes, checked per route.

Scopes: `admin` opens everything under /api (and calling agents); `invoke` opens calling
agents (only the listed ones when the key names agents), their OpenAPI documents and the
executions the key itself created. The bootstrap admin key (SPECLOOM_ADMIN_KEY, or generated
on first start and kept under the data dir) is never stored in the database.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Annotated, ClassVar

from fastapi import Depends, Request

from app.core.errors import ProblemError
from app.core.settings import Settings
from app.security.keys import KEY_PREFIX
from app.security.store import KeyStore, Principal

__all__ = [
    "KEY_PREFIX",
    "AdminDep",
    "Forbidden",
    "InvokeDep",
    "Principal",
    "PrincipalDep",
    "RateLimited",
    "Unauthorized",
    "load_admin_key",
    "require_admin",
    "require_invoke",
]


class Unauthorized(ProblemError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"
    auth_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers=self.auth_headers)


class Forbidden(ProblemError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class RateLimited(ProblemError):
    status = 429
    slug = "key-rate-limited"
    title = "Rate limited"
    retryable = True


def load_admin_key(settings: Settings) -> tuple[str, bool]:
    """The admin key and whether it was just generated (so it must be shown once)."""
    if settings.admin_key:
        return settings.admin_key, False
    path = settings.data_dir / "admin_key"
    if path.exists():
        return path.read_text().strip(), False
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    _write_secret(path, key)
    return key, True


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """Dependency: the caller's key, valid and within its rate limit (401 / 429 otherwise)."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    store: KeyStore = request.app.state.keys
    principal = await store.authenticate(token)
    if principal is None:
        raise Unauthorized("the API key is not valid (unknown or revoked)")
    retry_after = await store.allow(principal)
    if retry_after is not None:
        raise RateLimited(
            f"this key may make {principal.rpm} requests per minute",
            headers={"Retry-After": str(math.ceil(retry_after))},
        )
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def require_admin(principal: PrincipalDep) -> Principal:
    """Dependency: the caller's key has the `admin` scope (403 otherwise)."""
    if not principal.is_admin:
        raise Forbidden("this route needs a key with the 'admin' scope")
    return principal


async def require_invoke(principal: PrincipalDep) -> Principal:
    """Dependency: the caller's key may call agents (`invoke` or `admin`; 403 otherwise)."""
    if not (principal.is_admin or "invoke" in principal.scopes):
        raise Forbidden("this route needs a key with the 'invoke' scope")
    return principal


def check_agent(principal: Principal, agent: str) -> None:
    """403 unless the key may call `agent` (keys limited to some agents)."""
    if not principal.may_call(agent):
        raise Forbidden(f"this key may not call the agent {agent!r}")


def check_label(principal: Principal, label: str | None, *, pinned: bool) -> None:
    """403 unless the key may call through `label` (keys limited to some labels; for them
    no label means production, and a pinned version is not theirs to choose)."""
    if principal.labels is None or principal.is_admin:
        return
    if pinned:
        raise Forbidden("this key may call only through its labels, not a pinned version")
    chosen = label or "production"
    if chosen not in principal.labels:
        raise Forbidden(f"this key may not call through the label {chosen!r}")


AdminDep = Annotated[Principal, Depends(require_admin)]
InvokeDep = Annotated[Principal, Depends(require_invoke)]
