"""Who is calling and what they may do: bearer keys with scopes, checked per route.

Roles (app/security/roles.py): `viewer` < `author` < `publisher` < `admin` open the
management API by rank; `invoke` opens calling agents (only the listed ones when the key names
agents), their OpenAPI documents and the executions the key itself created. Every route says
what it needs with `requires(...)` in its `dependencies=`. The bootstrap admin key
(SPECLOOM_ADMIN_KEY, or generated on first start and kept under the data dir) is never stored
in the database.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request

from app.core.errors import ProblemError
from app.core.settings import Settings
from app.security.keys import KEY_PREFIX
from app.security.roles import Declaration, Requirement, describe
from app.security.store import KeyStore, Principal

__all__ = [
    "KEY_PREFIX",
    "PUBLIC",
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
    "requires",
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


def refuse(principal: Principal, need: Requirement) -> Forbidden:
    """The 403 for a caller whose role falls short of `need`, saying what it has and needs."""
    held = principal.role or ("invoke" if "invoke" in principal.scopes else "none")
    return Forbidden(
        f"{describe(need).removesuffix('.')}; this caller's role is {held!r}",
        extra={"required_role": need, "role": held},
    )


class RoleCheck(Declaration):
    """The dependency behind `requires(need)`: the bearer key's role meets `need` (403)."""

    def __init__(self, need: Requirement) -> None:
        self.required = need

    async def __call__(self, principal: PrincipalDep) -> Principal:
        if not principal.has(self.required):
            raise refuse(principal, self.required)
        return principal


class _Public(Declaration):
    """The declaration of a route anyone may call (health, the login form)."""

    required: Requirement = "public"

    async def __call__(self) -> None:
        return None


def requires(need: Requirement) -> Any:
    """`dependencies=[requires("author")]`: the one place a route (or router) says what it
    needs; the OpenAPI document and the route-by-role test read it back."""
    return Depends(RoleCheck(need))


PUBLIC: Any = Depends(_Public())


async def require_admin(principal: PrincipalDep) -> Principal:
    """The caller's role is `admin` (403 otherwise); for code that checks in its body."""
    if not principal.is_admin:
        raise refuse(principal, "admin")
    return principal


async def require_invoke(principal: PrincipalDep) -> Principal:
    """The caller may call agents (`invoke` or `admin`; 403 otherwise); for the plain
    routes that check in their body."""
    if not principal.has("invoke"):
        raise refuse(principal, "invoke")
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


# Who the caller is, once a route's declaration let it in (the check itself is cached per
# request, so naming the principal again costs nothing).
AdminDep = Annotated[Principal, Depends(require_admin)]
InvokeDep = Annotated[Principal, Depends(require_invoke)]
