"""Pre-flight probes of a data job's source and target: is the file there, does the connection
open, does the query prepare, has the table the mapped columns, does the endpoint answer.

A probe reads no records and writes nothing. SQLite databases are opened read-only (a missing
database file is reported, never created), PostgreSQL sessions are read-only with a short
connect timeout, a query runs as ``SELECT * FROM (<query>) AS q LIMIT 0`` in a transaction that
is rolled back, and an HTTP endpoint gets a ``HEAD`` (``GET`` or ``OPTIONS`` when it refuses
``HEAD``) without retries. Every answer is a :class:`Finding`: a status and a reason that names
the file, connection, table or URL (without its query string) and never a secret's value.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from rota.data.connections import connection_url
from rota.data.mapping import RecordMapping
from rota.data.paths import resolve_data_path
from rota.data.records import SourceError
from rota.data.references import references_in, resolve_references
from rota.data.sources import open_source
from rota.data.sources.http_source import USER_AGENT, HttpFailure, safe_url, send
from rota.data.spec import HTTP_TARGET, TRANSFER
from rota.data.targets.sql_table import Action, SqlTarget
from rota.model.errors import InvalidInputError
from rota.net.guard import guarded_client
from rota.secrets.scope import CURRENT
from rota.settings import Settings

Status = Literal["ok", "warning", "error"]
RANK: dict[Status, int] = {"ok": 0, "warning": 1, "error": 2}

PROBE_TIMEOUT = 10.0
"""Seconds a probe waits for a database connection or an HTTP answer (less if the job's own
``timeout`` is shorter)."""
REFUSES_METHOD = frozenset({405, 501})
"""Answers that mean "not this method", so the probe asks again with the next one."""
AUTH_STATUSES = frozenset({401, 403})
READ_ONLY = "-c default_transaction_read_only=on"


@dataclass(frozen=True)
class Finding:
    status: Status
    reason: str


def combine(findings: Iterable[Finding]) -> Finding:
    """One finding for several: the worst status, with every reason that is not ``ok`` (the
    worst first), or the ``ok`` reasons when all are fine."""
    found = sorted(findings, key=lambda f: -RANK[f.status])  # stable: order kept within a status
    worst: Status = found[0].status if found else "ok"
    shown = found if worst == "ok" else [f for f in found if f.status != "ok"]
    return Finding(worst, "; ".join(f.reason for f in shown))


class ProbeFailed(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.reason)
        self.finding = finding


# -- connections --------------------------------------------------------------------------------


class Connections:
    """Probe engines of the named connections, one per name (a failure is remembered too, so
    ten jobs on a dead server wait for one timeout); :meth:`close` disposes them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engines: dict[str, Engine | Finding] = {}

    def engine(self, name: str) -> Engine:
        """The engine of connection ``name``, opened once; :class:`ProbeFailed` otherwise."""
        if name not in self._engines:
            try:
                self._engines[name] = self._open(name)
            except ProbeFailed as exc:
                self._engines[name] = exc.finding
        found = self._engines[name]
        if isinstance(found, Finding):
            raise ProbeFailed(found)
        return found

    def _open(self, name: str) -> Engine:
        url = self.settings.connections.get(name)
        if url is None:
            known = ", ".join(sorted(self.settings.connections)) or "none"
            raise ProbeFailed(
                Finding("error", f"no connection {name!r} in rota.toml (known: {known})")
            )
        field = f"connections.{name}"
        if CURRENT.get() is None:
            for kind, secret in references_in(url):
                if kind == "secret":
                    raise ProbeFailed(
                        Finding(
                            "warning",
                            f"connection {name!r} not opened: its URL uses ${{secret:{secret}}}, "
                            "which resolves only inside a run",
                        )
                    )
        try:
            resolved = resolve_references(url, field)
        except InvalidInputError as exc:
            raise ProbeFailed(Finding("error", f"connection {name!r}: {exc}")) from None
        try:
            parsed = connection_url(resolved, self.settings.project, field)
        except InvalidInputError:
            # Its message quotes the URL, which may hold a password: say it without the URL.
            reason = f"connection {name!r}: {field}: is not a database URL"
            raise ProbeFailed(Finding("error", reason)) from None
        engine: Engine | None = None
        try:
            engine = _engine(name, parsed, self.settings)
            with engine.connect():
                pass
        except sa.exc.SQLAlchemyError as exc:
            if engine is not None:
                engine.dispose()
            reason = _database_reason(exc, parsed.password)
            raise ProbeFailed(
                Finding("error", f"connection {name!r} does not open: {reason}")
            ) from None
        return engine

    def close(self) -> None:
        for found in self._engines.values():
            if isinstance(found, Engine):
                found.dispose()
        self._engines.clear()


def _engine(name: str, parsed: sa.engine.URL, settings: Settings) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise ProbeFailed(
                Finding("warning", f"connection {name!r} is an in-memory database: not checked")
            )
        path = Path(database)
        if not path.is_file():
            raise ProbeFailed(
                Finding(
                    "error",
                    f"connection {name!r}: database file {shown_path(path, settings)} does not exist",
                )
            )
        uri = f"{path.as_uri()}?mode=ro"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=PROBE_TIMEOUT, check_same_thread=False)

        return sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)
    arguments: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        # Read-only sessions, added to the URL's own options (a search_path set there stays).
        given = parsed.query.get("options", "")
        options = " ".join([*([given] if isinstance(given, str) else given), READ_ONLY])
        arguments = {"connect_timeout": max(1, round(PROBE_TIMEOUT)), "options": options.strip()}
    return sa.create_engine(parsed, poolclass=NullPool, connect_args=arguments)


def _database_reason(exc: sa.exc.SQLAlchemyError, password: str | None) -> str:
    """The driver's first line, with the connection's password masked should it appear."""
    origin = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    lines = str(origin).strip().splitlines()
    text = lines[0] if lines else type(origin).__name__
    if password and len(password) >= 3:
        text = text.replace(password, "***")
    return text


# -- sources ------------------------------------------------------------------------------------


def probe_source(
    config: Mapping[str, Any],
    mapping: RecordMapping | None,
    settings: Settings,
    connections: Connections,
) -> Finding:
    """Can the source be opened, and has it the fields the mapping reads?"""
    kind = config.get("type")
    try:
        if kind == "sql":
            return _sql_source(config, mapping, connections)
        if kind == "http":
            if "probe" in config:
                return _configured_probe(config, "source")
            return probe_http(
                config, "source", ("HEAD", "GET"), refusal_is_error=True, accept="application/json"
            )
        return _file_source(config, mapping, settings)
    except ProbeFailed as exc:
        return exc.finding


def _file_source(
    config: Mapping[str, Any], mapping: RecordMapping | None, settings: Settings
) -> Finding:
    written = str(config.get("path", ""))
    try:
        path = resolve_data_path(written, settings.resolved_data_folders, "source.path")
    except InvalidInputError as exc:
        return Finding("error", str(exc))
    shown = shown_path(path, settings)
    if not path.exists():
        return Finding("error", f"source missing: {written} (looked for {shown})")
    if path.is_dir():
        return Finding("error", f"source.path: {shown} is a folder, not a file")
    if not os.access(path, os.R_OK):
        return Finding("error", f"source.path: {shown} is not readable by this user")
    try:
        source = open_source(config, settings.resolved_data_folders)
    except (InvalidInputError, SourceError) as exc:
        return Finding("error", f"{shown} cannot be read: {exc}")
    try:
        fields = source.fields
    finally:
        source.close()
    _check_fields(mapping, fields, shown)
    return Finding("ok", f"{shown} is readable ({_size(path.stat().st_size)})")


def _sql_source(
    config: Mapping[str, Any], mapping: RecordMapping | None, connections: Connections
) -> Finding:
    name = str(config.get("connection"))
    engine = connections.engine(name)
    query = str(config.get("query", "")).strip().rstrip(";").strip()
    statement = sa.text(f"SELECT * FROM (\n{query}\n) AS q LIMIT 0")
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                fields = list(conn.execute(statement, dict(config.get("params") or {})).keys())
            finally:
                transaction.rollback()
    except sa.exc.SQLAlchemyError as exc:
        return Finding(
            "error", f"source.query does not run on {name!r}: {_database_reason(exc, None)}"
        )
    _check_fields(mapping, fields, f"the query on {name!r}")
    return Finding(
        "ok", f"connection {name!r} opens; the query prepares ({_count(len(fields), 'column')})"
    )


def _check_fields(mapping: RecordMapping | None, fields: Sequence[str], shown: str) -> None:
    if mapping is None or not fields:  # JSON without records names no fields: nothing to say
        return
    try:
        mapping.check_fields(fields)
    except InvalidInputError as exc:
        raise ProbeFailed(Finding("error", f"{shown}: {exc}")) from None


# -- targets ------------------------------------------------------------------------------------


def probe_target(spec: Mapping[str, Any], settings: Settings, connections: Connections) -> Finding:
    """Can the target take the records: table and columns, a writable folder, an endpoint?"""
    target = spec.get("target") or {}
    try:
        if spec.get("action") != TRANSFER:
            return _sql_target(spec, target, connections)
        if target.get("type") == HTTP_TARGET:
            if "probe" in target:
                return _configured_probe(target, "target")
            return probe_http(
                target, "target", ("HEAD", "OPTIONS"), refusal_is_error=False, accept=None
            )
        return _file_target(target, settings)
    except ProbeFailed as exc:
        return exc.finding


def _sql_target(
    spec: Mapping[str, Any], target: Mapping[str, Any], connections: Connections
) -> Finding:
    name, table = str(target.get("connection")), str(target.get("table"))
    engine = connections.engine(name)
    columns = [str(c) for c in spec.get("mapping") or {}]
    try:
        # Constructing the target reflects the table and checks every mapped and match column.
        SqlTarget(
            engine,
            table,
            columns,
            [str(k) for k in spec.get("match") or []],
            Action(spec["action"]),
        )
    except InvalidInputError as exc:
        return Finding("error", f"{exc} (connection {name!r})")
    except sa.exc.SQLAlchemyError as exc:
        return Finding("error", f"table {table!r} on {name!r}: {_database_reason(exc, None)}")
    return Finding("ok", f"table {table!r} on {name!r} has every mapped column ({len(columns)})")


def _file_target(target: Mapping[str, Any], settings: Settings) -> Finding:
    try:
        path = resolve_data_path(
            str(target.get("path", "")), settings.resolved_data_folders, "target.path"
        )
    except InvalidInputError as exc:
        return Finding("error", str(exc))
    shown = shown_path(path, settings)
    if path.is_dir():
        return Finding("error", f"target.path: {shown} is a folder, not a file")
    if path.exists() and not target.get("overwrite", True):
        return Finding("error", f"target.path: {shown} exists (overwrite: false)")
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Finding("error", f"target.path: {shown_path(existing, settings)} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        return Finding(
            "error", f"target.path: folder {shown_path(existing, settings)} is not writable"
        )
    if existing == folder:
        return Finding("ok", f"folder {shown_path(folder, settings)} is writable")
    return Finding(
        "ok",
        f"folder {shown_path(folder, settings)} will be created in "
        f"{shown_path(existing, settings)} (writable)",
    )


# -- HTTP ---------------------------------------------------------------------------------------


def probe_http(
    config: Mapping[str, Any],
    field: str,
    methods: Sequence[str],
    *,
    refusal_is_error: bool,
    accept: str | None,
) -> Finding:
    """Ask ``config["url"]`` with ``methods[0]``, the next method when the answer is 405 or 501.

    Headers whose references do not resolve here are left out; a 401 or 403 is then a warning
    naming them rather than an error. When every method is refused, the answer is an error for
    a source (it must answer a read) and a warning for a target (it may take only ``POST``).
    """
    url = str(config.get("url", ""))
    headers, left_out = _headers(config.get("headers") or {}, f"{field}.headers")
    if accept is not None:
        headers.setdefault("Accept", accept)
    timeout = min(float(config.get("timeout", PROBE_TIMEOUT)), PROBE_TIMEOUT)
    asked: list[str] = []
    with guarded_client(timeout=timeout) as client:
        client.headers.update({"User-Agent": USER_AGENT, **headers})
        for method in methods:
            request = client.build_request(
                method, url, params=config.get("params") if field == "source" else None
            )
            try:
                response = send(client, request, retry_statuses=frozenset(), retry_errors=())
            except HttpFailure as exc:
                return Finding("error", str(exc))
            code = response.status_code
            asked.append(f"{method} {code}")
            if code not in REFUSES_METHOD:
                break
    shown = safe_url(request.url)
    said = f"{shown} answered {', '.join(asked)}"
    if code < 400:
        return Finding("ok", said)
    if code in AUTH_STATUSES and left_out:
        return Finding(
            "warning", f"{said} without header {', '.join(left_out)} (not resolvable here)"
        )
    if code in REFUSES_METHOD and not refusal_is_error:
        return Finding("warning", f"{said}: reachable; only a real batch shows it takes records")
    return Finding("error", said)


def _configured_probe(config: Mapping[str, Any], field: str) -> Finding:
    """The endpoint's own ``probe`` (its URL and method, the endpoint's headers): it must
    answer below 400."""
    probe = config["probe"]
    asked = {"headers": config.get("headers") or {}, "url": probe["url"]}
    if "timeout" in config:
        asked["timeout"] = config["timeout"]
    method = str(probe.get("method", "HEAD"))
    return probe_http(asked, f"{field}.probe", (method,), refusal_is_error=True, accept=None)


def _headers(declared: Mapping[str, Any], field: str) -> tuple[dict[str, str], list[str]]:
    resolved: dict[str, str] = {}
    left_out: list[str] = []
    for name, value in declared.items():
        try:
            text = resolve_references(str(value), f"{field}.{name}")
        except InvalidInputError:
            left_out.append(str(name))
            continue
        if any(c in text for c in "\r\n\0"):
            left_out.append(str(name))
            continue
        resolved[str(name)] = text
    return resolved, left_out


# -- wording ------------------------------------------------------------------------------------


def shown_path(path: Path, settings: Settings) -> str:
    """``path`` relative to the project folder when it is inside it (shorter, no home dirs)."""
    project = settings.project.resolve()
    return str(path.relative_to(project)) if path.is_relative_to(project) else str(path)


def _size(size: int) -> str:
    if size < 1024:
        return _count(size, "byte")
    value = size / 1024
    for unit in ("kB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"
