"""HTTP targets against a real local server: each send is one JSON batch; a refusal is a reason
to fail that batch's records, not an exception; only "not taken" answers are retried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from tests.http_server import Reply, Server, closed_port, loopback_allowed, serve

from rota.data.sources import http_source
from rota.data.targets.http_target import HttpTarget, check_http_target_config
from rota.model.errors import InvalidInputError

TOKEN = "erp-token-value"


@pytest.fixture
def server() -> Iterator[Server]:
    """Takes every batch (200 ``{"ok": true}``) on a path without a route."""
    with serve(fallback=Reply()) as running:
        yield running


@pytest.fixture(autouse=True)
def loopback() -> Iterator[None]:
    """The test server (and the closed port) are on 127.0.0.1, which the guard refuses unless
    ``[outgoing] allow`` names it."""
    with loopback_allowed():
        yield


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_source, "BACKOFF", 0.0)
    monkeypatch.setattr(http_source, "MAX_RETRY_AFTER", 0.0)


def target(server: Server, columns: tuple[str, ...] = ("id", "name"), **options: Any) -> HttpTarget:
    return HttpTarget({"type": "http", "url": server.url("/bulk"), **options}, columns)


# -- sending ------------------------------------------------------------------------------------


def test_each_send_is_one_batch(server: Server) -> None:
    sink = target(server)
    assert sink.batch_size == 500 and sink.method == "POST"
    assert sink.send([{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bo"}]) is None
    assert sink.send([{"id": 3, "name": "Cy", "extra": "dropped"}, {"id": 4}]) is None
    sink.close()
    assert sink.count == 4
    assert [s.json for s in server.seen] == [
        [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bo"}],
        [{"id": 3, "name": "Cy"}, {"id": 4, "name": None}],
    ]
    first = server.seen[0]
    assert first.method == "POST" and first.path == "/bulk"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["user-agent"] == "rota"


def test_wrap_puts_the_records_under_a_key(server: Server) -> None:
    sink = target(server, ("id",), wrap="items", method="put")
    assert sink.send([{"id": 1}]) is None
    sink.close()
    assert server.seen[0].method == "PUT"
    assert server.seen[0].json == {"items": [{"id": 1}]}


def test_patch(server: Server) -> None:
    sink = target(server, ("id",), method="PATCH")
    assert sink.send([{"id": 1}]) is None
    sink.close()
    assert server.seen[0].method == "PATCH"


def test_dates_and_decimals_are_encoded_like_the_json_file_target(server: Server) -> None:
    sink = target(server, ("day", "at", "clock", "amount", "n"))
    row = {
        "day": date(2024, 2, 29),
        "at": datetime(2024, 2, 29, 13, 5, tzinfo=UTC),
        "clock": time(8, 30),
        "amount": Decimal("12.30"),
        "n": 1.5,
    }
    assert sink.send([row]) is None
    sink.close()
    assert server.seen[0].json == [
        {
            "day": "2024-02-29",
            "at": "2024-02-29T13:05:00+00:00",
            "clock": "08:30:00",
            "amount": "12.30",
            "n": 1.5,
        }
    ]


def test_a_refused_batch_returns_the_reason(server: Server) -> None:
    body = json.dumps({"errors": [{"row": 1, "message": "email invalid " + "x" * 300}]})
    server.replies("/bulk", Reply(422, body.encode()))
    sink = target(server)
    reason = sink.send([{"id": 1}])
    sink.close()
    assert reason is not None
    assert reason.startswith('HTTP 422: {"errors": [{"row": 1, "message": "email invalid xxx')
    assert len(reason) == len("HTTP 422: ") + 200
    assert sink.count == 0
    assert len(server.seen) == 1


def test_an_empty_refusal(server: Server) -> None:
    server.replies("/bulk", Reply(400, b""))
    sink = target(server)
    assert sink.send([{"id": 1}]) == "HTTP 400"
    sink.close()


def test_a_503_is_retried(server: Server) -> None:
    server.replies("/bulk", Reply(503, b"busy", {"Retry-After": "2"}), Reply(201))
    sink = target(server)
    assert sink.send([{"id": 1}]) is None
    sink.close()
    assert sink.count == 1
    assert len(server.seen) == 2
    assert server.seen[0].body == server.seen[1].body


def test_retries_run_out(server: Server) -> None:
    server.replies("/bulk", Reply(429, b"slow down"))
    sink = target(server)
    assert sink.send([{"id": 1}]) == "HTTP 429: slow down"
    sink.close()
    assert len(server.seen) == 1 + http_source.RETRIES


def test_a_500_is_not_retried(server: Server) -> None:
    # The batch may have been stored before the server failed: sending it again could double it.
    server.replies("/bulk", Reply(500, b"oops"))
    sink = target(server)
    assert sink.send([{"id": 1}]) == "HTTP 500: oops"
    sink.close()
    assert len(server.seen) == 1


def test_a_refused_connection_is_retried_then_a_reason() -> None:
    port = closed_port()
    sink = HttpTarget({"type": "http", "url": f"http://127.0.0.1:{port}/bulk?key=k1"}, ["id"])
    reason = sink.send([{"id": 1}])
    sink.close()
    assert reason is not None
    assert reason.startswith(f"POST http://127.0.0.1:{port}/bulk?... failed after 3 retries")
    assert "k1" not in reason


def test_a_same_host_307_is_followed_but_a_303_is_not(server: Server) -> None:
    server.replies("/bulk", Reply(307, b"", {"Location": "/v2/bulk"}))
    server.replies("/v2/bulk", Reply(200))
    server.replies("/old", Reply(303, b"", {"Location": "/v2/bulk"}))
    sink = target(server, ("id",))
    assert sink.send([{"id": 1}]) is None
    assert [(s.method, s.path, s.body) for s in server.seen[-1:]] == [
        ("POST", "/v2/bulk", b'[{"id": 1}]')
    ]
    sink.close()
    other = HttpTarget({"type": "http", "url": server.url("/old")}, ["id"])
    reason = other.send([{"id": 1}])
    other.close()
    assert reason is not None and "would turn POST into GET" in reason
    assert other.count == 0


def test_not_json_values_are_a_reason(server: Server) -> None:
    sink = target(server, ("n",))
    reason = sink.send([{"n": float("nan")}])
    sink.close()
    assert reason is not None and reason.startswith("the records are not JSON")
    assert server.seen == []


def test_an_auth_header_from_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_TOKEN", TOKEN)
    server.routes["/bulk"] = lambda seen: (
        Reply(200) if seen.headers.get("authorization") == f"Bearer {TOKEN}" else Reply(401)
    )
    sink = target(server, ("id",), headers={"Authorization": "Bearer ${env:ERP_TOKEN}"})
    assert sink.send([{"id": 1}]) is None
    sink.close()


def test_an_unset_variable_fails_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERP_TOKEN", raising=False)
    config = {
        "type": "http",
        "url": "https://erp.invalid/bulk",
        "headers": {"Authorization": "Bearer ${env:ERP_TOKEN}"},
    }
    with pytest.raises(InvalidInputError) as caught:
        HttpTarget(config, ["id"])
    assert caught.value.field == "target.headers.Authorization"
    assert caught.value.reason == "environment variable ERP_TOKEN is not set"


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"url": None}, "target.url", "required"),
        ({"url": "file:///etc/passwd"}, "target.url", "http or https"),
        ({"type": "csv"}, "target.type", "must be http"),
        ({"method": "GET"}, "target.method", "POST, PUT, PATCH"),
        ({"method": 1}, "target.method", "POST, PUT, PATCH"),
        ({"batch_size": 0}, "target.batch_size", "from 1 to 10000"),
        ({"batch_size": 10_001}, "target.batch_size", "from 1 to 10000"),
        ({"batch_size": True}, "target.batch_size", "from 1 to 10000"),
        ({"timeout": -1}, "target.timeout", "more than 0"),
        ({"wrap": ""}, "target.wrap", "name of the key"),
        ({"headers": {"X-Key": "${vault:ERP}"}}, "target.headers.X-Key", "only ${env:NAME}"),
        ({"headers": {"X-Key": None}}, "target.headers.X-Key", "must be text"),
        (
            {"path": "out.json"},
            "target.path",
            "not an option of http targets (type, url, probe, method, headers, batch_size, timeout, "
            "wrap)",
        ),
    ],
)
def test_config_mistakes_name_the_option(changes: dict[str, Any], field: str, words: str) -> None:
    config = {"type": "http", "url": "https://erp.invalid/bulk", **changes}
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(InvalidInputError) as caught:
        check_http_target_config(config)
    assert caught.value.field == field, (caught.value.field, caught.value.reason)
    assert words in caught.value.reason, caught.value.reason
    with pytest.raises(InvalidInputError):
        HttpTarget(config, ["id"])


def test_a_full_config_checks_without_network_or_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ERP_TOKEN", raising=False)
    check_http_target_config(
        {
            "type": "http",
            "url": "https://erp.invalid/api/members/bulk",
            "method": "PATCH",
            "headers": {"Authorization": "Bearer ${env:ERP_TOKEN}"},
            "batch_size": 10_000,
            "timeout": 5,
            "wrap": "items",
        }
    )
