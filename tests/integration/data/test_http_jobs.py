"""Data jobs with HTTP through a real worker on SQLite and PostgreSQL stores: an import from a
paginated JSON API behind a bearer token, and a transfer that posts batches to an endpoint,
both against a real local HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.http_server import LOOPBACK, Reply, Route, Seen, Server, serve
from tests.integration.data.conftest import add_job, run

from rota.data.sources import http_source
from rota.engine.worker import Worker
from rota.model.status import RunStatus
from rota.store import Store

TOKEN = "crm-s3cret-token"
ERP_TOKEN = "erp-s3cret-token"


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
        yield running


@pytest.fixture
def project(project: Path) -> Path:
    """The worker may reach the test server, which listens on a loopback address."""
    with (project / "rota.toml").open("a", encoding="utf-8") as config:
        config.write(f"\n[outgoing]\nallow = {json.dumps(LOOPBACK)}\n")
    return project


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without backoff: the worker runs in this process, so the patch reaches it."""
    monkeypatch.setattr(http_source, "BACKOFF", 0.0)
    monkeypatch.setattr(http_source, "MAX_RETRY_AFTER", 0.0)


# -- a project and a worker ---------------------------------------------------------------------


def messages(store: Store, run_id: int) -> list[str]:
    return [line.message for line in store.get_logs(run_id)]


def outcomes(store: Store, run_id: int) -> dict[int, tuple[str, str | None]]:
    """Record results by source row: (action, error)."""
    return {r.row or 0: (r.action, r.error) for r in store.get_records(run_id)}


# -- import from an API -------------------------------------------------------------------------

IMPORT = """
id: members.api
kind: data
source:
  type: http
  url: {url}
  headers: {{Authorization: "Bearer ${{env:CRM_TOKEN}}"}}
  params: {{status: active}}
  records: data
  total: meta.total
  pagination: {{type: page, param: page, size_param: per_page, size: 3}}
target: {{connection: crm, table: members}}
action: upsert
match: [member_no]
mapping:
  member_no: {{field: id, type: int, required: true}}
  name: {{field: name, transform: [trim]}}
  email: {{field: email, transform: [trim, lower]}}
"""

API_RECORDS: list[Any] = [
    {"id": 1, "name": "Ann ", "email": "ANN@Example.org"},
    {"id": 2, "name": "Bob", "email": "bob@example.org"},
    {"id": 3, "name": "Cem", "email": " cem@example.org"},
    {"id": 4, "name": "Dora", "email": "dora@example.org"},
    "not a member",  # row 5, on page 2
    {"id": 6, "name": "Eve", "email": "eve@example.org"},
    {"id": 7, "name": "Finn", "email": "finn@example.org"},
]
PAGE_SIZE = 3


def members_api(failing_page: int | None = None) -> Route:
    """Pages of three records; 401 without the token; ``failing_page`` answers 500 forever."""

    def route(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"error": "unauthorized"})
        if seen.query.get("status") != "active" or seen.query.get("per_page") != "3":
            return Reply(400, {"error": "bad query"})
        page = int(seen.query.get("page", "1"))
        if page == failing_page:
            return Reply(500, {"error": "database on fire"})
        items = API_RECORDS[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return Reply(body={"data": items, "meta": {"total": len(API_RECORDS)}})

    return route


@pytest.fixture
def api_job(store: Store, project: Path, server: Server, crm: sa.Engine) -> str:
    add_job(store, project, "members_api", IMPORT.format(url=server.url("/members")))
    return "members.api"


def members(engine: sa.Engine) -> dict[int, tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT member_no, name, email FROM members"))
        return {row[0]: (row[1], row[2]) for row in rows}


def test_import_from_a_paginated_api_with_a_token_from_the_environment(
    store: Store,
    worker: Worker,
    server: Server,
    api_job: str,
    crm: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    server.routes["/members"] = members_api()

    first = run(store, api_job)

    assert first.status is RunStatus.PARTIAL, first.error
    assert first.result == {"dry_run": False, "records": 7, "failed": 1}
    counters = first.counters
    assert (counters.processed, counters.inserted, counters.failed) == (7, 6, 1)
    assert members(crm) == {
        1: ("Ann", "ann@example.org"),
        2: ("Bob", "bob@example.org"),
        3: ("Cem", "cem@example.org"),
        4: ("Dora", "dora@example.org"),
        6: ("Eve", "eve@example.org"),
        7: ("Finn", "finn@example.org"),
    }
    # Row numbers run on across pages; the failure says which page the row came from.
    results = outcomes(store, first.id)
    assert sorted(results) == [1, 2, 3, 4, 5, 6, 7]
    assert results[5] == ("failed", "record is not an object: row 5 (page 2) is a string")
    assert all(results[n] == ("inserted", None) for n in (1, 2, 3, 4, 6, 7))
    # Three pages, each once, each with the token and the fixed parameters; the third is short.
    assert [s.query for s in server.requests("/members")] == [
        {"status": "active", "page": str(page), "per_page": "3"} for page in (1, 2, 3)
    ]
    assert all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in server.seen)
    assert first.progress.total == 7  # source.total, read from the first page

    again = run(store, api_job)

    assert again.status is RunStatus.PARTIAL
    assert (again.counters.unchanged, again.counters.inserted, again.counters.failed) == (6, 0, 1)
    assert again.data_changed is False
    assert len(server.requests("/members")) == 6


def test_a_wrong_or_missing_token_fails_the_run_without_showing_it(
    store: Store,
    worker: Worker,
    server: Server,
    api_job: str,
    crm: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.routes["/members"] = members_api()
    monkeypatch.delenv("CRM_TOKEN", raising=False)

    unset = run(store, api_job)

    assert unset.status is RunStatus.FAILED
    assert unset.error is not None
    assert "CRM_TOKEN is not set" in unset.error.message
    assert "source.headers.Authorization" in unset.error.message
    assert server.seen == []  # nothing is sent without the header

    monkeypatch.setenv("CRM_TOKEN", "wrong-token-value")
    refused = run(store, api_job)

    assert refused.status is RunStatus.FAILED
    assert refused.error is not None
    message = refused.error.message
    assert f"page 1: GET {server.url('/members')}?... answered 401" in message
    assert "wrong-token-value" not in message
    assert "status=active" not in message  # no query string in messages
    assert len(server.seen) == 1  # 401 is not retried
    assert members(crm) == {}


def test_a_page_that_answers_500_forever_fails_the_run_naming_the_page(
    store: Store,
    worker: Worker,
    server: Server,
    api_job: str,
    crm: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    server.routes["/members"] = members_api(failing_page=2)

    failed = run(store, api_job)

    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    message = failed.error.message
    assert "page 2" in message
    assert f"GET {server.url('/members')}?... answered 500" in message
    assert TOKEN not in message
    assert not any(TOKEN in line for line in messages(store, failed.id))
    pages = [s.query["page"] for s in server.requests("/members")]
    assert pages == ["1"] + ["2"] * (http_source.RETRIES + 1)  # page 2 retried, then given up


def test_an_api_with_no_records_today_completes_with_nothing_to_do(
    store: Store,
    worker: Worker,
    server: Server,
    api_job: str,
    crm: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    server.routes["/members"] = lambda seen: Reply(body={"data": [], "meta": {"total": 0}})

    empty = run(store, api_job)

    assert empty.status is RunStatus.COMPLETED, empty.error
    assert empty.result == {"dry_run": False, "records": 0, "failed": 0}
    assert members(crm) == {}


# -- transfer to an endpoint --------------------------------------------------------------------

TRANSFER = """
id: members.push
kind: data
source: {{type: csv, path: members.csv}}
target:
  type: http
  url: {url}
  headers: {{Authorization: "Bearer ${{env:ERP_TOKEN}}"}}
  batch_size: 2
  wrap: items
action: transfer
mapping:
  member_no: {{field: no, type: int, required: true}}
  name: {{field: name, transform: [trim]}}
  joined: {{field: joined, type: date, format: "%d.%m.%Y"}}
"""

CSV = """no,name,joined
1,Ann,15.01.2026
2,Bob ,01.02.2025
3,Cem,
4,Dora,29.02.2024
5,Eve,31.12.2025
"""

SENT = [
    {"member_no": 1, "name": "Ann", "joined": "2026-01-15"},
    {"member_no": 2, "name": "Bob", "joined": "2025-02-01"},
    {"member_no": 3, "name": "Cem", "joined": None},
    {"member_no": 4, "name": "Dora", "joined": "2024-02-29"},
    {"member_no": 5, "name": "Eve", "joined": "2025-12-31"},
]


@pytest.fixture
def push_job(store: Store, project: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ERP_TOKEN", ERP_TOKEN)
    (project / "data" / "members.csv").write_text(CSV)
    add_job(store, project, "members_push", TRANSFER.format(url=server.url("/bulk")))
    return "members.push"


def accept(seen: Seen) -> Reply:
    return Reply(200, {"ok": True})


def test_a_transfer_posts_the_records_in_batches(
    store: Store, worker: Worker, server: Server, push_job: str
) -> None:
    server.routes["/bulk"] = accept

    pushed = run(store, push_job)

    assert pushed.status is RunStatus.COMPLETED, pushed.error
    assert [s.json for s in server.seen] == [
        {"items": SENT[0:2]},
        {"items": SENT[2:4]},
        {"items": SENT[4:5]},
    ]
    assert all(s.method == "POST" and s.path == "/bulk" for s in server.seen)
    assert all(s.headers["authorization"] == f"Bearer {ERP_TOKEN}" for s in server.seen)
    assert all(s.headers["content-type"] == "application/json" for s in server.seen)
    assert outcomes(store, pushed.id) == dict.fromkeys(range(1, 6), ("exported", None))
    assert (pushed.counters.processed, pushed.counters.succeeded) == (5, 5)
    assert pushed.info == {"url": server.url("/bulk"), "exported": 5}
    assert pushed.result == {"dry_run": False, "records": 5, "failed": 0}
    host = f"127.0.0.1:{server.port}"
    assert [(c["system"], c["what"]) for c in pushed.external_calls] == [
        (host, f"POST {server.url('/bulk')}")
    ] * 3


def test_a_refused_batch_fails_its_records_and_the_next_batch_is_still_sent(
    store: Store, worker: Worker, server: Server, push_job: str
) -> None:
    def refuse_member_3(seen: Seen) -> Reply:
        if any(item["member_no"] == 3 for item in seen.json["items"]):
            return Reply(422, {"error": "member 3: joined is required"})
        return Reply(200, {"ok": True})

    server.routes["/bulk"] = refuse_member_3

    pushed = run(store, push_job)

    assert pushed.status is RunStatus.PARTIAL, pushed.error
    assert len(server.seen) == 3  # not retried, and the batch after it is sent
    reason = 'HTTP 422: {"error": "member 3: joined is required"}'
    assert outcomes(store, pushed.id) == {
        1: ("exported", None),
        2: ("exported", None),
        3: ("failed", reason),
        4: ("failed", reason),
        5: ("exported", None),
    }
    assert (pushed.counters.failed, pushed.counters.succeeded) == (2, 3)
    assert pushed.info == {"url": server.url("/bulk"), "exported": 3}
    assert pushed.result == {"dry_run": False, "records": 5, "failed": 2}


def test_a_batch_answered_500_is_not_sent_again(
    store: Store, worker: Worker, server: Server, push_job: str
) -> None:
    def fail_the_first(seen: Seen) -> Reply:
        if seen.json["items"][0]["member_no"] == 1:
            return Reply(500, b"oops")
        return Reply(200, {"ok": True})

    server.routes["/bulk"] = fail_the_first

    pushed = run(store, push_job)

    assert pushed.status is RunStatus.PARTIAL
    assert [s.json["items"][0]["member_no"] for s in server.seen] == [1, 3, 5]
    results = outcomes(store, pushed.id)
    assert results[1] == results[2] == ("failed", "HTTP 500: oops")
    assert pushed.info == {"url": server.url("/bulk"), "exported": 3}


def test_a_dry_run_of_a_transfer_sends_nothing(
    store: Store, worker: Worker, server: Server, push_job: str
) -> None:
    server.routes["/bulk"] = accept

    dry = run(store, push_job, {"dry_run": True})

    assert dry.status is RunStatus.COMPLETED, dry.error
    assert server.seen == []
    assert dry.result == {"dry_run": True, "records": 5, "failed": 0}
    assert outcomes(store, dry.id) == dict.fromkeys(range(1, 6), ("skipped", None))
    assert dry.external_calls == []
    assert dry.data_changed is False
    assert f"would send 5 records to {server.url('/bulk')}" in messages(store, dry.id)
