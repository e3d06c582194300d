"""Browser tests: one real `specloom serve` (offline model) and one headless Debian chromium
for the whole session, a fresh browser context (cookies) per test."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from tests.conftest import ADMIN_KEY, PgServer, fresh_database
from tests.servers import ROOT, ServerProcess, running_server

ARTIFACTS = Path(os.environ.get("SPECLOOM_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "web"
LAPTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
_LINK = re.compile(r"http://\S+/ui/login\?token=\S+")


@dataclass
class WebServer:
    process: ServerProcess

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def login_link(self) -> str:
        """The one-time link the server printed at start."""
        found = _LINK.findall(self.process.log())
        assert found, f"serve printed no login link:\n{self.process.log()}"
        return str(found[-1])


# Package scope, not session: sync Playwright keeps an event loop running in the main
# thread while it is open, and every async test after it would find that loop in its way.
@pytest.fixture(scope="package")
def web_server(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    """`specloom serve` on loopback with its own database, served by the offline model."""
    data = tmp_path_factory.mktemp("web-data")
    with (
        fresh_database(pg_server) as url,
        running_server(server_env(url, data), log_path=data / "serve.log") as process,
    ):
        yield WebServer(process)


def server_env(database_url: str, data: Path, **extra: str) -> dict[str, str]:
    """The environment of a browser test's `specloom serve`: its own database and data dir,
    the known admin key, no spec files; `extra` adds variables."""
    return {
        "SPECLOOM_DATABASE_URL": database_url,
        "SPECLOOM_DATA_DIR": str(data),
        "SPECLOOM_ADMIN_KEY": ADMIN_KEY,
        "SPECLOOM_SPECS_DIR": str(data / "no-specs"),
        "SPECLOOM_LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture
def api(web_server: WebServer) -> Iterator[httpx.Client]:
    """The admin API of the server the browser uses."""
    with httpx.Client(
        base_url=web_server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        yield client


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's chromium (never Playwright's downloaded browsers), headless."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
    launched = playwright.chromium.launch(
        executable_path=executable,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, web_server: WebServer) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) pointed at the server."""
    ctx = browser.new_context(base_url=web_server.base_url, viewport=LAPTOP, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, web_server: WebServer) -> None:
    """Sign in with the admin key through the login form."""
    page.goto("/ui/login")
    page.fill('input[name="key"]', ADMIN_KEY)
    page.click('button:has-text("Sign in")')
    page.wait_for_url("**/ui")
