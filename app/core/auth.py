"""Who is calling: bearer keys, compared in constant time.

Until per-key scopes exist, the one admin key (SPECLOOM_ADMIN_KEY, or generated on first
start and kept under the data dir) opens every protected route.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

from fastapi import Depends, Request

from app.core.errors import ProblemError
from app.core.settings import Settings

KEY_PREFIX = "sk-sl-"


class Unauthorized(ProblemError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"
    auth_headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers=self.auth_headers)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    name: str
    scopes: frozenset[str]


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


async def require_admin(request: Request) -> Principal:
    """Dependency: the caller must present the admin key."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    admin_key: str = request.app.state.admin_key
    if not hmac.compare_digest(token.encode(), admin_key.encode()):
        raise Unauthorized("the API key is not valid")
    return Principal(name="admin", scopes=frozenset({"admin", "invoke"}))


AdminDep = Annotated[Principal, Depends(require_admin)]
