"""An HTTP endpoint as the target of a ``transfer``: records posted as JSON, batch by batch.

```yaml
target: {type: http, url: https://erp.example.org/api/members/bulk, method: POST,
         headers: {Authorization: "Bearer ${env:ERP_TOKEN}"}, batch_size: 500, wrap: items}
```

Each :meth:`HttpTarget.send` is one request whose body is a JSON array of records (or
``{"items": [...]}`` with ``wrap: items``); the caller cuts the records into batches of
:attr:`HttpTarget.batch_size`. A refused batch is not an exception: ``send`` returns a short
reason (``HTTP 422: ...``) so the caller can fail that batch's records and go on, as it does for
a record a database refuses. Values are made JSON the way the JSON file target writes them:
dates in ISO 8601, decimals as text (a float would round them).

Retries are narrower than the HTTP source's, because a batch sent twice may be stored twice:
429, 502, 503 and 504 (the server says it did not take it) and errors where the request never
reached the server or the connection dropped before an answer (refused, connect timeout,
closed without a response). A 500 or a read timeout is not retried: the batch may have been
stored. Headers, redirects and messages follow the HTTP source's rules (same host only, no
header value and no query string in any message).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2

from rota.data.sources.http_source import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    HttpFailure,
    check_headers,
    check_options,
    check_probe,
    check_timeout,
    check_url,
    resolve_headers,
    send,
)
from rota.data.targets.files import _text as _json_text
from rota.model.errors import InvalidInputError
from rota.net.guard import guarded_client

METHODS = ("POST", "PUT", "PATCH")
DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10_000
REASON_CHARS = 200
"""How much of a refusing answer's body a reason quotes."""
RETRY_STATUSES = frozenset({429, 502, 503, 504})
RETRY_ERRORS: tuple[type[Exception], ...] = (
    httpx2.ConnectError,
    httpx2.ConnectTimeout,
    httpx2.PoolTimeout,
    httpx2.RemoteProtocolError,
)


def _method(value: object, where: str) -> None:
    if not isinstance(value, str) or value.upper() not in METHODS:
        raise InvalidInputError(where, f"must be one of {', '.join(METHODS)}")


def _batch_size(value: object, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH_SIZE:
        raise InvalidInputError(where, f"must be a whole number from 1 to {MAX_BATCH_SIZE}")


def _wrap(value: object, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(where, "must be the name of the key holding the records")


def _type(value: object, where: str) -> None:
    if value != "http":
        raise InvalidInputError(where, "must be http")


OPTIONS = {
    "type": _type,
    "url": check_url,
    "probe": check_probe,
    "method": _method,
    "headers": check_headers,
    "batch_size": _batch_size,
    "timeout": check_timeout,
    "wrap": _wrap,
}


def check_http_target_config(config: Mapping[str, Any], field: str = "target") -> None:
    """Refuse an ``http`` target block that cannot work, naming the option, without any network
    access; header references are checked for their kind only (they resolve when it runs)."""
    check_options(config, field, OPTIONS, "http targets", ("type", "url"))


class HttpTarget:
    """Send batches of records to one endpoint; ``count`` is how many it accepted."""

    def __init__(self, config: Mapping[str, Any], columns: Sequence[str]) -> None:
        check_http_target_config(config)
        self.url = str(config["url"])
        self.method = str(config.get("method", "POST")).upper()
        self.batch_size = int(config.get("batch_size", DEFAULT_BATCH_SIZE))
        self.wrap: str | None = config.get("wrap")
        self.columns = list(columns)
        self.count = 0
        headers = resolve_headers(config.get("headers", {}), "target.headers")
        timeout = float(config.get("timeout", DEFAULT_TIMEOUT))
        self._client = guarded_client(timeout=timeout)
        self._client.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._client.headers.update(headers)

    def send(self, rows: list[dict[str, Any]]) -> str | None:
        """Send ``rows`` (each projected on the columns) as one request: ``None`` when the
        endpoint accepted them (2xx), else a short reason naming the status or the failure."""
        records = [{c: row.get(c) for c in self.columns} for row in rows]
        body: object = records if self.wrap is None else {self.wrap: records}
        try:
            content = json.dumps(body, default=_json_text, allow_nan=False).encode()
        except ValueError as exc:  # NaN or Infinity in a float
            return f"the records are not JSON: {exc}"
        request = self._client.build_request(
            self.method, self.url, content=content, headers={"Content-Type": "application/json"}
        )
        try:
            response = send(
                self._client, request, retry_statuses=RETRY_STATUSES, retry_errors=RETRY_ERRORS
            )
        except HttpFailure as exc:
            return str(exc)
        if not response.is_success:
            excerpt = " ".join(response.text[:REASON_CHARS].split())
            return f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else "")
        self.count += len(rows)
        return None

    def close(self) -> None:
        self._client.close()
