"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against the real
server and an in-process worker over a SQLite store (one backend keeps these tests fast; the
services below the pages are tested on both).

Chromium comes from the distribution (``apt-get install -y chromium``, which ``.ci/run`` does
when it is missing), never from ``playwright install``. Without it these tests skip, except
under ``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from tests.integration import conftest as integration
from tests.integration.conftest import JOBS, running_worker, write_project

from rota.api.server import start
from rota.services import access
from rota.settings import Settings
from rota.store import Store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN = "ada"
PASSWORD = "correct horse battery staple"
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "e2e"

YAML_JOBS = """
- id: t.wipe
  kind: shell
  name: Wipe the staging area
  destructive: true
  command: [echo, wiped]
- id: t.echo
  kind: shell
  name: Echo a word
  description: Says a word a few times.
  owner: ops-team
  tags: [demo, nightly]
  params:
    word: {type: str, default: hi, pattern: "[a-z]+"}
    count: {type: int, default: 1, min: 1, max: 5}
    day: {type: date, default: today}
    color: {type: choice, choices: [red, green], default: red}
  command: [echo, "{word}"]
  schedules:
    - cron: "0 6 * * 1-5"
      tz: Europe/Berlin
"""

DRIP = """
import time
from rota import job

@job(id="t.drip", tags=["demo"])
def drip(ctx, lines: int = 5):
    for i in range(lines):
        ctx.log.info("drop %d", i)
        time.sleep(0.3)
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        message = f"the dashboard's browser tests need {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only (overrides the two-backend parameter of tests/conftest.py)."""
    return f"sqlite:///{tmp_path}/rota.db"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"testjobs.py": JOBS, "drip.py": DRIP, "shell.yaml": YAML_JOBS})


settings = integration.settings  # the worker's short leases and polls
synced = integration.synced


@pytest.fixture
def base(synced: Store, settings: Settings) -> Iterator[str]:
    """The server (API and dashboard) with a worker running next to it."""
    server = start(synced, settings, "127.0.0.1", 0)
    try:
        with running_worker(synced, settings):
            yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


@pytest.fixture
def admin(synced: Store) -> str:
    access.create_admin(synced, ADMIN, PASSWORD)
    return ADMIN


@pytest.fixture
def context(browser: Browser, base: str) -> Iterator[BrowserContext]:
    opened = browser.new_context(base_url=base, accept_downloads=True)
    opened.set_default_timeout(10_000)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that accepts confirmation dialogs; a script error on it fails the test."""
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    assert not errors, errors


@pytest.fixture
def logged_in(page: Page, admin: str) -> Page:
    page.goto("/login")
    page.fill("#name", admin)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    return page


def shoot(page: Page, name: str) -> None:
    """A screenshot as a test artefact (build/e2e/), to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
