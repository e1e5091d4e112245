"""HTTP sources against a real local server: every pagination, retries, and errors that say
which page failed without ever showing a token or a query string."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.http_server import Reply, Route, Seen, Server, closed_port, loopback_allowed, serve

from rota.data.records import SourceError, SourceRow
from rota.data.sources import HttpSource, check_source_config, http_source, open_source
from rota.model.errors import InvalidInputError

TOKEN = "s3cret-token-value"


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as running:
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


def read(source: HttpSource) -> list[SourceRow]:
    with source:
        return list(source.rows())


def people(*ids: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"p{i}"} for i in ids]


def paged(size: int, count: int, param: str = "page", start: int = 1) -> Route:
    """Pages of ``size`` records out of ``count``, by page number from ``start``."""

    def route(seen: Seen) -> Reply:
        page = int(seen.query.get(param, str(start))) - start
        return Reply(body=people(*range(page * size + 1, min(count, (page + 1) * size) + 1)))

    return route


# -- configuration ------------------------------------------------------------------------------

URL = "https://api.example.org/members"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"url": None}, "source.url", "required"),
        ({"url": "ftp://example.org/x"}, "source.url", "http or https"),
        ({"url": "https:///nohost"}, "source.url", "with a host"),
        ({"url": "https://api.example.org/${env:X}"}, "source.url", "cannot hold ${...}"),
        ({"url": "https://ada:pw@api.example.org/"}, "source.url", "user name or password"),
        ({"url": "https://api.example.org/a b"}, "source.url", "spaces"),
        ({"headers": ["Authorization"]}, "source.headers", "mapping"),
        ({"headers": {"Bad Name": "x"}}, "source.headers.Bad Name", "not a valid header name"),
        ({"headers": {"X-Num": 1.5}}, "source.headers.X-Num", "must be text"),
        ({"headers": {"X-A": "a\nb"}}, "source.headers.X-A", "one line"),
        ({"headers": {"a": "1", "A": "2"}}, "source.headers.A", "twice"),
        (
            {"headers": {"Authorization": "Bearer ${vault:CRM}"}},
            "source.headers.Authorization",
            "only ${env:NAME}, ${secret:NAME} references are known",
        ),
        ({"params": ["a"]}, "source.params", "mapping"),
        ({"params": {"key": "${env:KEY}"}}, "source.params.key", "send secrets in headers"),
        ({"params": {"a": {"b": 1}}}, "source.params.a", "text, a number"),
        ({"params": {"ids": [1, None]}}, "source.params.ids[1]", "text, a number"),
        ({"records": "data..items"}, "source.records", "dotted path"),
        ({"total": 5}, "source.total", "dotted path"),
        ({"pagination": "next"}, "source.pagination", "mapping with a type"),
        ({"pagination": {}}, "source.pagination.type", "required"),
        ({"pagination": {"type": "cursor"}}, "source.pagination.type", "'cursor' is not a"),
        ({"pagination": {"type": "next_url"}}, "source.pagination.path", "required"),
        (
            {"pagination": {"type": "offset", "cursor": "x"}},
            "source.pagination.cursor",
            "not an option of offset pagination (param, limit_param, limit)",
        ),
        ({"pagination": {"type": "link_header", "path": "x"}}, "source.pagination.path", ""),
        ({"pagination": {"type": "page", "size": 0}}, "source.pagination.size", "from 1"),
        ({"pagination": {"type": "page", "start": -1}}, "source.pagination.start", "from 0"),
        (
            {"pagination": {"type": "page", "size_param": "per_page"}},
            "source.pagination.size",
            "required with size_param",
        ),
        (
            {"pagination": {"type": "offset", "param": "n", "limit_param": "n"}},
            "source.pagination",
            "same parameter",
        ),
        (
            {"pagination": {"type": "page"}, "params": {"page": 3}},
            "source.params.page",
            "set by the pagination",
        ),
        (
            {"pagination": {"type": "offset"}, "params": {"limit": 3}},
            "source.params.limit",
            "set by the pagination",
        ),
        ({"timeout": 0}, "source.timeout", "more than 0"),
        ({"timeout": True}, "source.timeout", "seconds"),
        ({"max_pages": 0}, "source.max_pages", "from 1"),
        ({"max_pages": 2.5}, "source.max_pages", "whole number"),
        (
            {"colour": "red"},
            "source.colour",
            "not an option of http sources (url, probe, headers, params, records, pagination,",
        ),
    ],
)
def test_config_mistakes_name_the_option(changes: dict[str, Any], field: str, words: str) -> None:
    config = {"type": "http", "url": URL, **changes}
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(InvalidInputError) as caught:
        check_source_config(config)
    assert caught.value.field == field, (caught.value.field, caught.value.reason)
    assert words in caught.value.reason, caught.value.reason


def test_a_full_config_checks_without_network_or_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    check_source_config(
        {
            "type": "http",
            "url": "https://api.invalid/members?fixed=1",
            "headers": {"Authorization": "Bearer ${env:CRM_TOKEN}", "X-Version": 2},
            "params": {"status": "active", "ids": [1, 2], "all": True},
            "records": "data.items",
            "pagination": {"type": "page", "param": "p", "start": 0, "size_param": "n", "size": 5},
            "total": "meta.total",
            "timeout": 2.5,
            "max_pages": 10,
        }
    )


# -- reading ------------------------------------------------------------------------------------


def test_one_page_that_is_the_list(server: Server) -> None:
    server.replies("/members", Reply(body=[{"id": 1, "name": "Ada"}, {"id": 2, "mail": "x"}]))
    source = HttpSource(server.url("/members"), params={"status": "active", "all": True})
    assert source.fields == ["id", "name", "mail"]
    assert source.total() is None
    assert read(source) == [
        SourceRow(1, {"id": 1, "name": "Ada"}),
        SourceRow(2, {"id": 2, "mail": "x"}),
    ]
    (seen,) = server.seen
    assert seen.query == {"status": "active", "all": "true"}
    assert seen.headers["user-agent"] == "rota"


def test_next_url_pages_are_fetched_lazily_and_rows_numbered_across_them(
    server: Server,
) -> None:
    first = {"data": {"items": people(1, 2)}, "meta": {"total": 5}, "links": {"next": "page2"}}
    server.replies("/api/members", Reply(body=first))
    server.replies(
        "/api/page2",
        Reply(body={"data": {"items": people(3, 4)}, "links": {"next": "/api/last?x=1"}}),
    )
    server.replies("/api/last", Reply(body={"data": {"items": people(5)}, "links": {"next": None}}))
    source = HttpSource(
        server.url("/api/members"),
        records="data.items",
        pagination={"type": "next_url", "path": "links.next"},
        total="meta.total",
    )
    assert source.fields == ["id", "name"]
    assert source.total() == 5
    assert len(server.seen) == 1  # only the first page so far
    rows = source.rows()
    assert [next(rows).number for _ in range(2)] == [1, 2]
    assert len(server.seen) == 1
    assert [row.number for row in rows] == [3, 4, 5]
    source.close()
    assert [(s.path, s.query) for s in server.seen] == [
        ("/api/members", {}),
        ("/api/page2", {}),  # relative to /api/members
        ("/api/last", {"x": "1"}),
    ]


def test_next_url_stops_when_the_path_is_missing(server: Server) -> None:
    server.replies("/m", Reply(body={"items": people(1), "links": {"next": "/m2"}}))
    server.replies("/m2", Reply(body={"items": people(2)}))
    source = HttpSource(
        server.url("/m"), records="items", pagination={"type": "next_url", "path": "links.next"}
    )
    assert [row.number for row in read(source)] == [1, 2]


def test_page_pagination_stops_on_a_short_page(server: Server) -> None:
    server.routes["/m"] = paged(2, 5)
    source = HttpSource(
        server.url("/m"),
        params={"status": "active"},
        pagination={"type": "page", "size_param": "per_page", "size": 2},
    )
    assert [row.values["id"] for row in read(source) if row.values] == [1, 2, 3, 4, 5]
    assert [s.query for s in server.seen] == [
        {"status": "active", "page": str(n), "per_page": "2"} for n in (1, 2, 3)
    ]


def test_page_pagination_without_a_size_stops_on_an_empty_page(server: Server) -> None:
    server.routes["/m"] = paged(2, 4, param="p", start=0)
    source = HttpSource(server.url("/m"), pagination={"type": "page", "param": "p", "start": 0})
    assert len(read(source)) == 4
    assert [s.query["p"] for s in server.seen] == ["0", "1", "2"]


def test_offset_pagination(server: Server) -> None:
    def route(seen: Seen) -> Reply:
        offset, limit = int(seen.query["offset"]), int(seen.query["limit"])
        return Reply(body={"rows": people(*range(offset + 1, min(offset + limit, 7) + 1))})

    server.routes["/m"] = route
    source = HttpSource(server.url("/m"), records="rows", pagination={"type": "offset", "limit": 3})
    assert [row.number for row in read(source)] == list(range(1, 8))
    assert [(s.query["offset"], s.query["limit"]) for s in server.seen] == [
        ("0", "3"),
        ("3", "3"),
        ("6", "3"),
    ]


def test_offset_pagination_stops_on_an_empty_page(server: Server) -> None:
    server.routes["/m"] = lambda seen: Reply(
        body=people(1, 2) if seen.query["offset"] == "0" else []
    )
    source = HttpSource(server.url("/m"), pagination={"type": "offset", "limit": 2})
    assert len(read(source)) == 2
    assert len(server.seen) == 2


def test_link_header_pagination(server: Server) -> None:
    def route(seen: Seen) -> Reply:
        page = int(seen.query.get("page", "1"))
        link = {"Link": f'<{server.url("/m")}?page={page + 1}>; rel="next", </m>; rel="first"'}
        return Reply(body=people(page), headers=link if page < 3 else {})

    server.routes["/m"] = route
    source = HttpSource(server.url("/m"), pagination={"type": "link_header"})
    assert [row.values for row in read(source)] == [people(1)[0], people(2)[0], people(3)[0]]


def test_a_relative_link_header(server: Server) -> None:
    server.replies("/v1/m", Reply(body=people(1), headers={"Link": '<m2>; rel="next"'}))
    server.replies("/v1/m2", Reply(body=people(2)))
    source = HttpSource(server.url("/v1/m"), pagination={"type": "link_header"})
    assert len(read(source)) == 2
    assert [s.path for s in server.seen] == ["/v1/m", "/v1/m2"]


def test_a_record_that_is_not_an_object_fails_its_row(server: Server) -> None:
    server.replies("/m", Reply(body={"items": [{"id": 1}, "oops", [1], None]}))
    rows = read(HttpSource(server.url("/m"), records="items"))
    assert rows[0] == SourceRow(1, {"id": 1})
    assert [row.values for row in rows[1:]] == [None, None, None]
    assert all(str(row.error).startswith("record is not an object") for row in rows[1:])
    assert rows[1].error == "record is not an object: row 2 (page 1) is a string"


def test_null_records_are_an_empty_page(server: Server) -> None:
    server.replies("/m", Reply(body={"items": None}))
    source = HttpSource(server.url("/m"), records="items")
    assert source.fields == []
    assert read(source) == []


def test_a_total_given_as_text(server: Server) -> None:
    server.replies("/m", Reply(body={"items": [], "count": "42"}))
    assert HttpSource(server.url("/m"), records="items", total="count").total() == 42


def test_a_same_host_redirect_is_followed(server: Server) -> None:
    server.replies("/old", Reply(301, b"", {"Location": "/new"}))
    server.replies("/new", Reply(body=people(1)))
    assert len(read(HttpSource(server.url("/old")))) == 1


# -- retries ------------------------------------------------------------------------------------


def test_a_500_is_retried(server: Server) -> None:
    server.replies("/m", Reply(500, {"error": "busy"}), Reply(body=people(1)))
    assert len(read(HttpSource(server.url("/m")))) == 1
    assert len(server.seen) == 2


def test_a_429_with_retry_after_is_retried(server: Server) -> None:
    server.replies(
        "/m", Reply(429, b"", {"Retry-After": "1"}), Reply(503, b""), Reply(body=people(1))
    )
    assert len(read(HttpSource(server.url("/m")))) == 1
    assert len(server.seen) == 3


def test_retries_run_out(server: Server) -> None:
    server.replies("/m", Reply(503, b"down"))
    with pytest.raises(SourceError) as caught:
        HttpSource(server.url("/m"))
    assert len(server.seen) == 1 + http_source.RETRIES
    assert "page 1" in str(caught.value) and "503" in str(caught.value)


def test_a_refused_connection_is_retried_then_fails() -> None:
    url = f"http://127.0.0.1:{closed_port()}/m?key=abc"
    with pytest.raises(SourceError) as caught:
        HttpSource(url)
    message = str(caught.value)
    assert message.startswith("page 1: GET http://127.0.0.1:")
    assert "failed after 3 retries: ConnectError" in message
    assert "abc" not in message


# -- errors -------------------------------------------------------------------------------------


def test_a_404_names_page_status_and_url_but_no_secret(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    config = {
        "type": "http",
        "url": server.url("/missing?api_key=literal-key"),
        "headers": {"Authorization": "Bearer ${env:CRM_TOKEN}"},
        "params": {"status": "active"},
    }
    with pytest.raises(SourceError) as caught:
        open_source(config, [])
    message = str(caught.value)
    assert message == f"page 1: GET {server.url('/missing')}?... answered 404 Not Found"
    assert TOKEN not in message and "literal-key" not in message and "active" not in message
    assert len(server.seen) == 1  # a 404 is not retried


def test_an_error_on_a_later_page_fails_the_reading(server: Server) -> None:
    server.replies("/m", Reply(body=people(1, 2), headers={"Link": '</gone>; rel="next"'}))
    source = HttpSource(server.url("/m"), pagination={"type": "link_header"})
    rows = source.rows()
    assert [next(rows).number for _ in range(2)] == [1, 2]
    with pytest.raises(
        SourceError, match=r"^page 2: GET http://127\.0\.0\.1:\d+/gone answered 404"
    ):
        next(rows)
    source.close()


def test_invalid_json(server: Server) -> None:
    server.replies("/m", Reply(body=b'[{"id": 1},'))
    with pytest.raises(SourceError, match=r"page 1: GET .*/m: not valid JSON at line 1"):
        HttpSource(server.url("/m"))


def test_nan_is_not_json(server: Server) -> None:
    server.replies("/m", Reply(body=b'[{"id": NaN}]'))
    with pytest.raises(SourceError, match="not valid JSON: NaN is not a JSON value"):
        HttpSource(server.url("/m"))


def test_a_missing_records_path(server: Server) -> None:
    server.replies("/m", Reply(body={"data": {"rows": []}}))
    with pytest.raises(SourceError) as caught:
        HttpSource(server.url("/m"), records="data.items")
    assert "source.records 'data.items': data (object) has no 'items'" in str(caught.value)


def test_a_body_that_is_no_list_needs_records(server: Server) -> None:
    server.replies("/m", Reply(body={"data": []}))
    with pytest.raises(
        SourceError, match=re.escape("name the array of records with source.records")
    ):
        HttpSource(server.url("/m"))


def test_a_missing_total(server: Server) -> None:
    server.replies("/m", Reply(body=[]))
    with pytest.raises(SourceError, match=re.escape("source.total 'meta.total'")):
        HttpSource(server.url("/m"), total="meta.total")


def test_max_pages_stops_an_endless_api_loudly(server: Server) -> None:
    server.routes["/m"] = paged(1, 1_000_000)
    source = HttpSource(server.url("/m"), pagination={"type": "page", "size": 1}, max_pages=3)
    rows = source.rows()
    assert [next(rows).number for _ in range(3)] == [1, 2, 3]
    with pytest.raises(SourceError, match=re.escape("source.max_pages is 3")):
        next(rows)
    source.close()
    assert len(server.seen) == 3


def test_a_page_naming_itself_next(server: Server) -> None:
    server.replies("/m", Reply(body={"items": [], "next": "/m"}))
    with pytest.raises(SourceError, match="names itself as the next page"):
        HttpSource(
            server.url("/m"), records="items", pagination={"type": "next_url", "path": "next"}
        )


def test_a_next_page_on_another_host_is_not_followed(server: Server) -> None:
    other = f"http://localhost:{server.port}/m2"
    server.replies("/m", Reply(body={"items": people(1), "next": other}))
    with pytest.raises(SourceError, match="not on the source's host"):
        HttpSource(
            server.url("/m"), records="items", pagination={"type": "next_url", "path": "next"}
        )
    assert len(server.seen) == 1


def test_a_redirect_to_another_host_is_not_followed(server: Server) -> None:
    server.replies("/m", Reply(302, b"", {"Location": f"http://localhost:{server.port}/m"}))
    with pytest.raises(SourceError, match="only redirects to the same scheme and host"):
        HttpSource(server.url("/m"), headers={"Authorization": TOKEN})
    assert len(server.seen) == 1


# -- secrets from the environment ---------------------------------------------------------------


def test_an_auth_header_from_the_environment_is_sent(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_TOKEN", TOKEN)

    def route(seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"error": "who are you"})
        return Reply(body={"data": people(1, 2)})

    server.routes["/members"] = route
    config = {
        "type": "http",
        "url": server.url("/members"),
        "headers": {"Authorization": "Bearer ${env:CRM_TOKEN}", "User-Agent": "rota-crm"},
        "records": "data",
    }
    source = open_source(config, [tmp_path])
    assert source.fields == ["id", "name"]
    assert [row.number for row in source.rows()] == [1, 2]
    source.close()
    assert server.seen[0].headers["user-agent"] == "rota-crm"


def test_an_unset_variable_fails_before_any_request(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRM_TOKEN", raising=False)
    config = {
        "type": "http",
        "url": server.url("/members"),
        "headers": {"Authorization": "Bearer ${env:CRM_TOKEN}"},
    }
    with pytest.raises(InvalidInputError) as caught:
        open_source(config, [])
    assert caught.value.field == "source.headers.Authorization"
    assert caught.value.reason == "environment variable CRM_TOKEN is not set"
    assert server.seen == []


def test_a_variable_with_a_line_break_is_refused_without_quoting_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRM_TOKEN", "abc\r\nX-Evil: 1")
    config = {"type": "http", "url": URL, "headers": {"Authorization": "${env:CRM_TOKEN}"}}
    with pytest.raises(InvalidInputError) as caught:
        open_source(config, [])
    assert caught.value.field == "source.headers.Authorization"
    assert "abc" not in str(caught.value)
