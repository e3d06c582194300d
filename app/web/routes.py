"""The web app's wiring: every page router and the sign-in redirect."""

from __future__ import annotations

from fastapi import FastAPI

from app.web import (
    admin_pages,
    agents,
    api_page,
    auth_pages,
    diff_page,
    editor,
    executions_pages,
    jobs_pages,
    matrix_pages,
    people_pages,
    playground,
    releases_page,
    tests_pages,
)
from app.web.deps import install_handlers


def install(app: FastAPI) -> None:
    """Serve the pages under /ui (and redirect / there)."""
    for module in (
        auth_pages,
        people_pages,
        editor,  # before agents: /ui/agents/new is not an agent called "new"
        agents,
        diff_page,
        releases_page,
        tests_pages,
        matrix_pages,
        playground,
        executions_pages,
        jobs_pages,
        api_page,
        admin_pages,
    ):
        app.include_router(module.router)
    install_handlers(app)  # after the app's own problem+json handler, which it wraps
