"""A JSON HTTP API as the source of a data job, read page by page.

```yaml
source:
  type: http
  url: https://api.example.org/members
  headers: {Authorization: "Bearer ${env:CRM_TOKEN}"}
  params: {status: active}
  records: data.items
  pagination: {type: next_url, path: links.next}
  total: meta.total
```

Pages are fetched lazily, one at a time, so memory is bounded by one page whatever the API
holds; the first page is fetched on opening, so ``fields`` (and ``total()``) are known then,
like for the file sources. Pagination is one of ``next_url`` (a URL in the body),
``link_header`` (RFC 8288 ``Link: <...>; rel="next"``), ``page`` and ``offset`` (a query
parameter counted up until a page comes back empty or short); ``max_pages`` stops an API that
never says it is done, loudly rather than by cutting the data short.

Secrets: header values may be ``${env:NAME}`` references, resolved when the job runs (see
:mod:`rota.data.references`). Messages show the URL without its query string and never a header
value. Headers are only ever sent to the configured scheme and host: redirects and next-page
URLs that lead elsewhere fail the run instead of handing the token to another server.
References are refused in ``url`` and ``params`` because URLs end up in messages and in
the HTTP client's own log lines.

Transient failures (429, 500, 502, 503, 504 and connection errors) are retried :data:`RETRIES`
times with a short backoff, honouring ``Retry-After`` up to :data:`MAX_RETRY_AFTER` seconds.
500 is retried here although the HTTP target does not retry it: reading a page twice is
harmless, posting a batch twice is not.

The helpers that the HTTP target shares (option checks, :func:`send`, :func:`safe_url`) live
here so both speak about URLs, headers and retries the same way.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2

from rota.data.records import SourceError, SourceRow
from rota.data.references import check_references, resolve_references
from rota.data.sources.json_source import PEEK, _field_names, _kind, _no_constant
from rota.data.sources.streamed import StreamedSource
from rota.model.errors import InvalidInputError
from rota.net.guard import guarded_client

RETRIES = 3
"""How many times a transient failure is retried (so at most ``RETRIES + 1`` attempts)."""
BACKOFF = 0.5
"""Seconds before the first retry, doubled for each further one (tests set it to 0)."""
MAX_RETRY_AFTER = 30.0
"""The longest ``Retry-After`` honoured, in seconds: a server asking for more gets this."""
MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_PAGES = 10_000
USER_AGENT = "rota"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses a GET is retried on (reading a page again changes nothing)."""
RETRY_ERRORS: tuple[type[Exception], ...] = (
    httpx2.NetworkError,
    httpx2.TimeoutException,
    httpx2.RemoteProtocolError,
)
"""Transport errors a GET is retried on: refused, dropped or timed-out connections."""

PAGINATION_TYPES = ("next_url", "page", "offset", "link_header")

_Check = Callable[[object, str], None]
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


# -- checks shared with the HTTP target ---------------------------------------------------------


def check_url(value: object, where: str) -> None:
    """An absolute http(s) URL with a host, and nothing in it that must stay secret."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(where, "must be an http or https URL")
    if "${" in value:
        raise InvalidInputError(
            where,
            "cannot hold ${...} references: URLs are shown in messages and logs "
            "(send secrets in headers)",
        )
    if any(c.isspace() for c in value):
        raise InvalidInputError(where, "must not contain spaces (percent-encode them)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise InvalidInputError(where, f"is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(where, "must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError(
            where, "must not hold a user name or password (send credentials in headers)"
        )
    try:
        httpx2.URL(value)
    except httpx2.InvalidURL as exc:
        raise InvalidInputError(where, f"is not a valid URL: {exc}") from None


def check_headers(value: object, where: str) -> None:
    """Header names and one-line text values; values may hold known ``${...}`` references.
    No message here repeats a value: it may be a token written in by mistake."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(where, "must be a mapping of header names to values")
    seen: set[str] = set()
    for name, text in value.items():
        at = f"{where}.{name}"
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidInputError(at, "is not a valid header name")
        if name.lower() in seen:
            raise InvalidInputError(at, "is given twice (header names ignore case)")
        seen.add(name.lower())
        if isinstance(text, bool) or not isinstance(text, str | int):
            raise InvalidInputError(at, "must be text")
        if any(c in str(text) for c in "\r\n\0"):
            raise InvalidInputError(at, "must be one line of text")
        check_references(str(text), at)


def check_timeout(value: object, where: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= 3600
    ):
        raise InvalidInputError(where, "must be a number of seconds, more than 0 and up to 3600")


def check_options(
    config: object, field: str, options: Mapping[str, _Check], kind: str, required: tuple[str, ...]
) -> Mapping[str, Any]:
    """The common frame: a mapping, no unknown option (the known ones listed), the required
    ones present, each checked with its function and named ``field.option``."""
    if not isinstance(config, Mapping):
        raise InvalidInputError(field, f"must be a mapping of {kind} options")
    for key in config:
        if key != "type" and key not in options:
            raise InvalidInputError(
                f"{field}.{key}", f"is not an option of {kind} ({', '.join(options)})"
            )
    for key in required:
        if key not in config:
            raise InvalidInputError(f"{field}.{key}", "is required")
    for key, check in options.items():
        if key in config:
            check(config[key], f"{field}.{key}")
    return config


def resolve_headers(headers: Mapping[str, Any], field: str) -> dict[str, str]:
    """Header values with their references resolved (when the job runs, not when it loads).

    A resolved value is never quoted back: an error names the header and the reference only.
    """
    resolved: dict[str, str] = {}
    for name, value in headers.items():
        text = resolve_references(str(value), f"{field}.{name}")
        if any(c in text for c in "\r\n\0"):
            raise InvalidInputError(f"{field}.{name}", "resolves to text with a line break")
        resolved[str(name)] = text
    return resolved


# -- sending with retries -----------------------------------------------------------------------


class HttpFailure(Exception):
    """A request failed for good (connection, redirect refused). The message is safe to show:
    the URL without its query, and never a header."""


def safe_url(url: httpx2.URL | str) -> str:
    """``scheme://host[:port]/path`` with ``?...`` for a query: query strings carry API keys
    often enough that Rota never prints one (and never a user name or password)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}{'?...' if parts.query else ''}"


def _describe(error: Exception, request: httpx2.Request) -> str:
    text = str(error).replace(str(request.url), safe_url(request.url)).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def _retry_after(response: httpx2.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), capped at MAX_RETRY_AFTER."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _follow(client: httpx2.Client, request: httpx2.Request) -> httpx2.Response:
    """Send, following redirects only within the request's origin (scheme, host and port) and
    only when the method stays the same: a redirect elsewhere would carry the headers to a
    server nobody configured, and a POST turned into a GET would look like success."""
    for _ in range(MAX_REDIRECTS + 1):
        response = client.send(request)
        if not response.has_redirect_location:
            return response
        status = response.status_code
        shown = f"{request.method} {safe_url(request.url)} answered {status}"
        following = response.next_request
        if following is None:
            raise HttpFailure(f"{shown} with a Location that is not a URL")
        if following.url.origin != request.url.origin:
            target = f"{following.url.scheme}://{following.url.host}"
            raise HttpFailure(
                f"{shown}, redirecting to {target}: only redirects to the same scheme and "
                "host are followed"
            )
        if following.method != request.method:
            raise HttpFailure(
                f"{shown}, which would turn {request.method} into {following.method}: not followed"
            )
        request = following
    raise HttpFailure(
        f"{request.method} {safe_url(request.url)}: more than {MAX_REDIRECTS} redirects"
    )


def send(
    client: httpx2.Client,
    request: httpx2.Request,
    *,
    retry_statuses: frozenset[int],
    retry_errors: tuple[type[Exception], ...],
) -> httpx2.Response:
    """The response to ``request`` once it is not a retryable status, or the last one when
    retries ran out; :class:`HttpFailure` when no response came at all."""
    for attempt in range(RETRIES + 1):
        last = attempt == RETRIES
        try:
            response = _follow(client, request)
        except retry_errors as exc:
            if last:
                raise HttpFailure(
                    f"{request.method} {safe_url(request.url)} failed after {RETRIES} retries: "
                    f"{_describe(exc, request)}"
                ) from None
            time.sleep(BACKOFF * 2**attempt)
            continue
        except httpx2.HTTPError as exc:
            raise HttpFailure(
                f"{request.method} {safe_url(request.url)} failed: {_describe(exc, request)}"
            ) from None
        if last or response.status_code not in retry_statuses:
            return response
        wait = _retry_after(response)
        time.sleep(BACKOFF * 2**attempt if wait is None else wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


# -- the source ---------------------------------------------------------------------------------


def _text(value: object, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(where, "must be non-empty text")


def _dotted(value: object, where: str) -> None:
    if not isinstance(value, str) or not all(s.strip() for s in value.split(".")):
        raise InvalidInputError(where, "must be a dotted path like data.items")


def _whole(least: int, most: int) -> _Check:
    def check(value: object, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise InvalidInputError(where, f"must be a whole number from {least} to {most}")

    return check


def _scalar(value: object, where: str) -> None:
    if isinstance(value, str):
        if "${" in value:
            raise InvalidInputError(
                where,
                "cannot hold ${...} references: query strings end up in URLs and logs "
                "(send secrets in headers)",
            )
    elif not isinstance(value, int | float) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise InvalidInputError(where, "must be text, a number or true/false")


def _params(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInputError(where, "must be a mapping of query parameters")
    for name, item in value.items():
        at = f"{where}.{name}"
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(at, "must be a non-empty parameter name")
        for index, one in enumerate(item if isinstance(item, list) else [item]):
            _scalar(one, f"{at}[{index}]" if isinstance(item, list) else at)


_PAGINATION: dict[str, dict[str, _Check]] = {
    "next_url": {"path": _dotted},
    "page": {
        "param": _text,
        "start": _whole(0, 1_000_000),
        "size_param": _text,
        "size": _whole(1, 100_000),
    },
    "offset": {"param": _text, "limit_param": _text, "limit": _whole(1, 100_000)},
    "link_header": {},
}


@dataclass(frozen=True, slots=True)
class Pagination:
    """A checked ``pagination:`` block with its defaults filled in; ``kind`` is ``"none"``
    for a single page. For ``offset``, ``size_param``/``size`` are its limit parameter."""

    kind: str = "none"
    path: str | None = None
    param: str | None = None
    start: int = 0
    size_param: str | None = None
    size: int | None = None

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> Pagination:
        if config is None:
            return cls()
        kind = str(config["type"])
        if kind == "next_url":
            return cls(kind, path=str(config["path"]))
        if kind == "page":
            size_param = config.get("size_param")
            return cls(
                kind,
                param=str(config.get("param", "page")),
                start=int(config.get("start", 1)),
                size_param=None if size_param is None else str(size_param),
                size=config.get("size"),
            )
        if kind == "offset":
            return cls(
                kind,
                param=str(config.get("param", "offset")),
                size_param=str(config.get("limit_param", "limit")),
                size=int(config.get("limit", 100)),
            )
        return cls(kind)

    @property
    def params(self) -> list[str]:
        """The query parameters the pagination sets itself."""
        return [p for p in (self.param, self.size_param) if p is not None]


def _pagination(value: object, where: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidInputError(where, f"must be a mapping with a type ({', '.join(_PAGINATION)})")
    kind = value.get("type")
    if kind is None:
        raise InvalidInputError(f"{where}.type", f"is required ({', '.join(_PAGINATION)})")
    if not isinstance(kind, str) or kind not in _PAGINATION:
        raise InvalidInputError(
            f"{where}.type", f"{kind!r} is not a pagination type ({', '.join(_PAGINATION)})"
        )
    options = _PAGINATION[kind]
    required = ("path",) if kind == "next_url" else ()
    check_options(value, where, options, f"{kind} pagination", required)
    if kind == "page" and "size_param" in value and "size" not in value:
        raise InvalidInputError(f"{where}.size", "is required with size_param (the value sent)")
    pagination = Pagination.of(value)
    if len(set(pagination.params)) < len(pagination.params):
        raise InvalidInputError(where, "sends the same parameter for page and size")


PROBE_METHODS = ("HEAD", "GET", "OPTIONS")


def check_probe(value: object, where: str) -> None:
    """``probe: {url: .../health, method: GET}``: what ``rota jobs check`` asks instead of a
    ``HEAD`` of the endpoint itself (an API whose data URL is costly, or refuses ``HEAD``)."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(where, "must be a mapping: {url: ..., method: GET}")
    for key in value:
        if key not in ("url", "method"):
            raise InvalidInputError(f"{where}.{key}", "is not a probe option (url, method)")
    if "url" not in value:
        raise InvalidInputError(f"{where}.url", "is required")
    check_url(value["url"], f"{where}.url")
    method = value.get("method", "HEAD")
    if method not in PROBE_METHODS:
        raise InvalidInputError(f"{where}.method", f"must be one of {', '.join(PROBE_METHODS)}")


OPTIONS: dict[str, _Check] = {
    "url": check_url,
    "probe": check_probe,
    "headers": check_headers,
    "params": _params,
    "records": _dotted,
    "pagination": _pagination,
    "total": _dotted,
    "timeout": check_timeout,
    "max_pages": _whole(1, 1_000_000),
}


def check_http_config(config: Mapping[str, Any], field: str = "source") -> None:
    """Refuse an ``http`` source block that cannot work, naming the option, without any
    network access (a job file is checked where it is loaded, which may be offline)."""
    check_options(config, field, OPTIONS, "http sources", ("url",))
    pagination = config.get("pagination")
    params = config.get("params", {})
    if pagination is not None:
        for name in Pagination.of(pagination).params:
            if name in params:
                raise InvalidInputError(
                    f"{field}.params.{name}", "is set by the pagination, page after page"
                )


class _Missing(LookupError):
    """A dotted path leads nowhere; the message says where it stopped."""


def _walk(document: object, dotted: str) -> Any:
    current = document
    walked: list[str] = []
    for segment in dotted.split("."):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            where = ".".join(walked) or "the body"
            raise _Missing(f"{where} ({_kind(current)}) has no {segment!r}")
        walked.append(segment)
    return current


def _not_object(number: int, page: int, value: object) -> str:
    kind = _kind(value)
    article = "an" if kind[0] in "ao" else "a"
    return f"record is not an object: row {number} (page {page}) is {article} {kind}"


def _query_value(value: object) -> str | list[str]:
    if isinstance(value, list):
        return [str(_query_value(v)) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(slots=True)
class _Page:
    items: list[Any]
    following: httpx2.Request | None
    """The request for the next page, or ``None`` when this page is the last."""


class HttpSource(StreamedSource):
    """Records from a paginated JSON API; see the module documentation for the options.

    Opening fetches the first page, so a wrong URL, token or records path fails when the run
    starts, before anything is written.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        records: str | None = None,
        pagination: Mapping[str, Any] | None = None,
        total: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        self.url = url
        self._records = records
        self._pagination = Pagination.of(pagination)
        self._params = {str(k): _query_value(v) for k, v in (params or {}).items()}
        self._max_pages = max_pages
        self._pages = 0
        self._total: int | None = None
        self._position = self._pagination.start
        self._client = guarded_client(timeout=timeout)
        self._client.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._client.headers.update(headers or {})
        try:
            first, document = self._fetch(self._request(self._position))
            if total is not None:
                self._total = self._count(document, total)
        except BaseException:
            self._client.close()
            raise
        self._page: _Page | None = first
        self._fields = _field_names(first.items[:PEEK])

    def total(self) -> int | None:
        return self._total

    def close(self) -> None:
        self._page = None
        self._client.close()

    def _rows(self) -> Iterator[SourceRow]:
        number = 0
        while self._page is not None:
            page, self._page = self._page, None
            at = self._pages
            for item in page.items:
                number += 1
                if isinstance(item, dict):
                    yield SourceRow(number, item)
                else:
                    yield SourceRow(number, None, _not_object(number, at, item))
            if page.following is None:
                return
            if self._pages >= self._max_pages:
                raise SourceError(
                    f"page {self._pages} is followed by more, but source.max_pages is "
                    f"{self._max_pages}: raise it if the API really has this many pages"
                )
            following = page.following
            del page  # keep one page in memory, not two
            self._page = self._fetch(following)[0]

    def _request(self, position: int) -> httpx2.Request:
        """The request for the first page, or the ``position``-th of page/offset pagination."""
        params: dict[str, str | list[str]] = dict(self._params)
        pagination = self._pagination
        if pagination.kind in ("page", "offset"):
            assert pagination.param is not None
            params[pagination.param] = str(position)
            if pagination.size_param is not None:
                params[pagination.size_param] = str(pagination.size)
        return self._client.build_request("GET", self.url, params=params)

    def _fetch(self, request: httpx2.Request) -> tuple[_Page, object]:
        self._pages += 1
        number = self._pages
        try:
            response = send(
                self._client, request, retry_statuses=RETRY_STATUSES, retry_errors=RETRY_ERRORS
            )
        except HttpFailure as exc:
            raise SourceError(f"page {number}: {exc}") from None
        where = f"page {number}: GET {safe_url(response.url)}"
        if not response.is_success:
            reason = f" {response.reason_phrase}" if response.reason_phrase else ""
            raise SourceError(f"{where} answered {response.status_code}{reason}")
        try:
            document = json.loads(response.content, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"{where}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except UnicodeDecodeError as exc:
            raise SourceError(f"{where}: not valid JSON: bytes not valid {exc.encoding}") from None
        except ValueError as exc:  # NaN, Infinity
            raise SourceError(f"{where}: not valid JSON: {exc}") from None
        except RecursionError:
            raise SourceError(f"{where}: not readable: nested too deeply") from None
        items = self._items(document, where)
        return _Page(items, self._following(response, document, items, where)), document

    def _items(self, document: object, where: str) -> list[Any]:
        if self._records is None:
            if not isinstance(document, list):
                raise SourceError(
                    f"{where}: the body is {_kind(document)!r}, not an array; "
                    "name the array of records with source.records"
                )
            return document
        try:
            items = _walk(document, self._records)
        except _Missing as exc:
            raise SourceError(f"{where}: source.records {self._records!r}: {exc}") from None
        if items is None:  # some APIs say "no records" with null
            return []
        if not isinstance(items, list):
            raise SourceError(
                f"{where}: source.records {self._records!r} is {_kind(items)!r}, not an array"
            )
        return items

    def _following(
        self, response: httpx2.Response, document: object, items: list[Any], where: str
    ) -> httpx2.Request | None:
        """The request for the next page, or ``None`` when this one is the last."""
        pagination = self._pagination
        if pagination.kind in ("page", "offset"):
            if not items or (pagination.size is not None and len(items) < pagination.size):
                return None
            self._position += 1 if pagination.kind == "page" else len(items)
            return self._request(self._position)
        if pagination.kind == "next_url":
            assert pagination.path is not None
            try:
                link = _walk(document, pagination.path)
            except _Missing:
                return None
            if link is None or link == "":
                return None
            if not isinstance(link, str):
                raise SourceError(
                    f"{where}: source.pagination.path {pagination.path!r} is "
                    f"{_kind(link)!r}, not a URL"
                )
        elif pagination.kind == "link_header":
            link = response.links.get("next", {}).get("url")
            if not link:
                return None
        else:
            return None
        return self._next_url(response.url, link, where)

    def _next_url(self, current: httpx2.URL, link: str, where: str) -> httpx2.Request:
        try:
            url = current.join(link)
        except httpx2.InvalidURL:
            raise SourceError(f"{where}: the next page's URL is not valid") from None
        if url.scheme not in ("http", "https"):
            raise SourceError(f"{where}: the next page's URL is not http or https")
        if url.origin != httpx2.URL(self.url).origin:
            raise SourceError(
                f"{where}: the next page is on {url.scheme}://{url.host}, not on the source's "
                "host; it is not followed, so the source's headers go nowhere else"
            )
        if url == current:
            raise SourceError(f"{where}: the page names itself as the next page")
        return self._client.build_request("GET", url)

    def _count(self, document: object, path: str) -> int:
        try:
            value = _walk(document, path)
        except _Missing as exc:
            raise SourceError(f"page 1: source.total {path!r}: {exc}") from None
        if isinstance(value, str) and value.isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SourceError(f"page 1: source.total {path!r} is {_kind(value)!r}, not a count")
        return value
