"""The HTTP API through a real uvicorn server on a free port, over the test's store (SQLite
and PostgreSQL), talked to over HTTP like any client would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from tests.integration.conftest import JOBS, write_project

from rota.api.server import start
from rota.auth.roles import SYSTEM
from rota.services import access
from rota.settings import Settings
from rota.store import Store

YAML_JOBS = """
- id: t.wipe
  kind: shell
  destructive: true
  command: [echo, wiped]
- id: t.echo
  kind: shell
  params:
    word: {type: str, default: hi, pattern: "[a-z]+"}
    count: {type: int, default: 1, min: 1, max: 5}
    day: {type: date, default: today}
    color: {type: choice, choices: [red, green], default: red}
  command: [echo, "{word}"]
  group: nightly
  schedules:
    - cron: "0 6 * * 1-5"
      tz: Europe/Berlin
- id: t.flow
  kind: process
  steps:
    first: {job: t.ok, params: {n: 1}}
    second: {job: t.ok, needs: [first], params: {n: 2}}
"""

DRIP = """
import time
from rota import job

@job(id="t.drip")
def drip(ctx, lines: int = 5):
    for i in range(lines):
        ctx.log.info("drop %d", i)
        time.sleep(0.2)
"""

ADMIN = "ada"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path, {"testjobs.py": JOBS, "drip.py": DRIP, "shell.yaml": YAML_JOBS})


@pytest.fixture
def base(synced: Store, settings: Settings) -> Iterator[str]:
    """The server's base URL; no administrator exists yet."""
    server = start(synced, settings, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


@pytest.fixture
def admin(synced: Store) -> str:
    access.create_admin(synced, ADMIN, PASSWORD)
    return ADMIN


@pytest.fixture
def token(synced: Store, admin: str) -> str:
    _, secret = access.create_token(
        synced, admin, roles=None, tenants=None, expires_days=None, principal=SYSTEM
    )
    return secret


@pytest.fixture
def anon(base: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=base, timeout=20) as client:
        yield client


@pytest.fixture
def api(base: str, token: str) -> Iterator[httpx2.Client]:
    """A client holding an administrator's token."""
    with httpx2.Client(
        base_url=base, timeout=20, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


def error(response: httpx2.Response) -> dict[str, object]:
    """The one error format, checked."""
    body = response.json()
    assert set(body) == {"type", "message", "field"}, body
    return dict(body)
