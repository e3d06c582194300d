"""Roles and what each route requires, declared once per route.

Management roles are ordered: `viewer` < `author` < `publisher` < `admin`; each may do all
that the ones below it may. `invoke` is apart: it calls agents (an `admin` may too, as the
bootstrap key always could). A route states what it needs in its `dependencies=` list (or
its router's) with `requires(...)`, `PUBLIC`, or for a page `page(...)`; a plain Starlette
route (no dependency injection, e.g. the hot `/v1/agents/{name}`) is marked with
`declare_plain`. The OpenAPI document and the route-by-role test read the declarations back
with `requirement_of`, so a route nobody declared is caught.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

Role = Literal["viewer", "author", "publisher", "admin"]
Scope = Literal["viewer", "author", "publisher", "admin", "invoke"]
Requirement = Literal["public", "invoke", "viewer", "author", "publisher", "admin"]

ROLES: tuple[Role, ...] = get_args(Role)
_STRICTNESS: tuple[Requirement, ...] = get_args(Requirement)

WHAT_ROLES_MAY = {
    "viewer": "read specs, versions, tests, executions and usage",
    "author": "also create versions, cases and test runs, move non-production labels",
    "publisher": "also publish, roll back, approve, run rollouts and shadows",
    "admin": "also keys, people, budgets, guardrails and settings",
    "invoke": "call agents (only the listed ones when the key names agents)",
}


def rank(role: str) -> int:
    """A management role's place in the order (-1 for anything else)."""
    return ROLES.index(role) if role in ROLES else -1


def role_of(scopes: Iterable[str]) -> Role | None:
    """The highest management role among `scopes` (None for an invoke-only key)."""
    best = max((rank(s) for s in scopes), default=-1)
    return ROLES[best] if best >= 0 else None


def satisfies(scopes: Iterable[str], need: Requirement) -> bool:
    """Whether a caller with `scopes` meets the requirement `need`."""
    held = set(scopes)
    if need == "public":
        return True
    if need == "invoke":
        return "invoke" in held or "admin" in held
    return max((rank(s) for s in held), default=-1) >= rank(need)


class Declaration:
    """A route's declared requirement; subclasses are the dependencies that check it."""

    required: Requirement


_PLAIN: dict[int, tuple[object, Requirement]] = {}


def declare_plain(endpoint: object, need: Requirement) -> None:
    """Declare what a plain (non-FastAPI) route's endpoint requires; it checks it itself."""
    _PLAIN[id(endpoint)] = (endpoint, need)


def strictest(needs: Iterable[Requirement]) -> Requirement | None:
    """The strictest of several declarations (a router's and its route's), None if none."""
    found = [_STRICTNESS.index(n) for n in needs]
    return _STRICTNESS[max(found)] if found else None


def requirement_of(route: Any) -> Requirement | None:
    """What a route (an APIRoute, an included router's route context, or a plain route or
    mount) declared it requires; None when nothing was declared."""
    dependencies = getattr(route, "dependencies", None)
    if dependencies is not None:
        calls = (getattr(d, "dependency", None) for d in dependencies)
        return strictest(c.required for c in calls if isinstance(c, Declaration))
    target = getattr(route, "endpoint", None) or getattr(route, "app", None)
    plain = _PLAIN.get(id(target))
    return plain[1] if plain is not None and plain[0] is target else None


def describe(need: Requirement) -> str:
    """One line for the OpenAPI description of an operation."""
    if need == "public":
        return "Required role: none (public)."
    if need == "invoke":
        return "Required role: `invoke` (or `admin`)."
    higher = ", ".join(f"`{r}`" for r in ROLES[rank(need) + 1 :])
    return f"Required role: `{need}`" + (f" (or {higher})." if higher else ".")
