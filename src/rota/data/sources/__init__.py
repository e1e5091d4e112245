"""The sources of data jobs, chosen by ``source.type``: files (CSV, XLSX, JSON, NDJSON), an SQL
query on a named connection, and a paginated JSON HTTP API.

:func:`check_source_config` validates a ``source:`` block without touching the disk or the
network, so a job file is refused when it is loaded (``rota jobs validate``, the API) and not at
3 a.m. when the run starts; every error names the option (``source.delimiter``,
``source.pagination.type``). :func:`open_source` checks again, then opens: a file path is
confined to the data folders, an HTTP source's ``${env:NAME}`` header references are resolved
(only now, on the machine that runs the job) and its first page fetched. What is wrong with the
file or the API itself is then a :class:`~rota.data.records.SourceError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from rota.data.paths import resolve_data_path
from rota.data.records import Source
from rota.data.sources.csv_source import CsvSource, text_codec
from rota.data.sources.http_source import (
    DEFAULT_MAX_PAGES,
    DEFAULT_TIMEOUT,
    HttpSource,
    check_http_config,
    resolve_headers,
)
from rota.data.sources.json_source import JsonSource, NdjsonSource
from rota.data.sources.sql_source import SqlSource, check_sql_config
from rota.data.sources.xlsx_source import XlsxSource
from rota.model.errors import InvalidInputError

__all__ = [
    "SOURCE_TYPES",
    "CsvSource",
    "HttpSource",
    "JsonSource",
    "NdjsonSource",
    "SqlSource",
    "XlsxSource",
    "check_source_config",
    "open_source",
]

_Check = Callable[[object, str], None]


def _text(value: object, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(where, "must be non-empty text")


def _flag(value: object, where: str) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(where, "must be true or false")


def _char(value: object, where: str) -> None:
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
        raise InvalidInputError(where, "must be one character (not a line break)")


def _count(least: int) -> _Check:
    def check(value: object, where: str) -> None:
        # bool is an int in Python; ``skip_rows: yes`` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(where, f"must be a whole number, at least {least}")

    return check


def _names(value: object, where: str) -> None:
    if not isinstance(value, list) or not value:
        raise InvalidInputError(where, "must be a non-empty list of column names")
    seen: set[str] = set()
    for index, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise InvalidInputError(f"{where}[{index}]", "must be non-empty text")
        if name in seen:
            raise InvalidInputError(f"{where}[{index}]", f"{name!r} is named twice")
        seen.add(name)


def _encoding(value: object, where: str) -> None:
    _text(value, where)
    text_codec(str(value), where)


def _sheet(value: object, where: str) -> None:
    if isinstance(value, str):
        _text(value, where)
    elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(where, "must be a sheet name or a number from 1")


def _dotted(value: object, where: str) -> None:
    if not isinstance(value, str) or not all(value.split(".")):
        raise InvalidInputError(where, "must be a dotted path like data.items")


_OPTIONS: dict[str, dict[str, _Check]] = {
    "csv": {
        "path": _text,
        "encoding": _encoding,
        "delimiter": _char,
        "quotechar": _char,
        "header": _flag,
        "columns": _names,
        "skip_rows": _count(0),
    },
    "xlsx": {"path": _text, "sheet": _sheet, "header_row": _count(1)},
    "json": {"path": _text, "records": _dotted},
    "ndjson": {"path": _text},
}

SOURCE_TYPES = (*_OPTIONS, "sql", "http")


def check_source_config(config: Mapping[str, Any], field: str = "source") -> None:
    """Refuse a ``source:`` block with an unknown type or option, a missing path or a value of
    the wrong kind, naming the option. Opens nothing; the path is checked by :func:`open_source`.
    """
    if not isinstance(config, Mapping):
        raise InvalidInputError(field, "must be a mapping with a type and a path")
    kind = config.get("type")
    known = ", ".join(SOURCE_TYPES)
    if kind is None:
        raise InvalidInputError(f"{field}.type", f"is required ({known})")
    if not isinstance(kind, str) or kind not in SOURCE_TYPES:
        raise InvalidInputError(f"{field}.type", f"{kind!r} is not a source type ({known})")
    if kind == "sql":
        check_sql_config(config, field)
        return
    if kind == "http":
        check_http_config(config, field)
        return
    options = _OPTIONS[kind]
    for key in config:
        if key != "type" and key not in options:
            raise InvalidInputError(
                f"{field}.{key}", f"is not an option of {kind} sources ({', '.join(options)})"
            )
    if "path" not in config:
        raise InvalidInputError(f"{field}.path", "is required")
    for key, check in options.items():
        if key in config:
            check(config[key], f"{field}.{key}")
    if kind == "csv":
        if config.get("delimiter", ",") == config.get("quotechar", '"'):
            raise InvalidInputError(f"{field}.quotechar", "must differ from the delimiter")
        if config.get("header", True):
            if "columns" in config:
                raise InvalidInputError(
                    f"{field}.columns", "names columns only when header is false"
                )
        elif "columns" not in config:
            raise InvalidInputError(f"{field}.columns", "is required when header is false")


def open_source(
    config: Mapping[str, Any],
    folders: Sequence[Path],
    field: str = "source",
    engines: Callable[[str], Engine] | None = None,
) -> Source:
    """Open the source ``config`` declares, its path confined to the data ``folders``.

    Raises :class:`InvalidInputError` for the declaration (and an unset ``${env:NAME}``), and
    :class:`~rota.data.records.SourceError` when the file or API cannot be read as a whole.
    """
    check_source_config(config, field)
    kind = config["type"]
    if kind == "sql":
        if engines is None:
            raise InvalidInputError(f"{field}.connection", "no connections are available here")
        return SqlSource(
            engines(str(config["connection"])),
            str(config["query"]),
            dict(config.get("params", {})),
            int(config.get("batch_size", 1000)),
        )
    if kind == "http":
        return HttpSource(
            str(config["url"]),
            # ${env:...} references are resolved here, when the job runs, never at load.
            headers=resolve_headers(config.get("headers", {}), f"{field}.headers"),
            params=config.get("params"),
            records=config.get("records"),
            pagination=config.get("pagination"),
            total=config.get("total"),
            timeout=float(config.get("timeout", DEFAULT_TIMEOUT)),
            max_pages=int(config.get("max_pages", DEFAULT_MAX_PAGES)),
        )
    path = resolve_data_path(config["path"], folders, f"{field}.path")
    if kind == "csv":
        return CsvSource(
            path,
            encoding=config.get("encoding", "utf-8"),
            delimiter=config.get("delimiter", ","),
            quotechar=config.get("quotechar", '"'),
            header=config.get("header", True),
            columns=config.get("columns"),
            skip_rows=config.get("skip_rows", 0),
        )
    if kind == "xlsx":
        return XlsxSource(path, sheet=config.get("sheet"), header_row=config.get("header_row", 1))
    if kind == "json":
        return JsonSource(path, records=config.get("records"))
    return NdjsonSource(path)
