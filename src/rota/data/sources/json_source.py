"""JSON and NDJSON files as data job sources: records are objects, anything else fails one row.

A JSON document is parsed whole (the standard library has no streaming parser, and an array
cannot be counted or checked without reading it), so JSON suits exports and API dumps of
moderate size; large feeds belong in NDJSON, which is streamed line by line. Text is what
RFC 8259 allows: UTF-8 (with or without a BOM), UTF-16 or UTF-32. ``NaN`` and ``Infinity``
are refused because they are not JSON and no database column should receive them by accident.

``fields`` is the union of the keys of the first :data:`PEEK` objects, in first-seen order: a
JSON record has no header, and optional keys often miss from the very first record. Records
still carry every key they have; later keys not in ``fields`` are the mapping's business.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from rota.data.records import SourceError, SourceRow
from rota.data.sources.streamed import StreamedSource

PEEK = 100
"""How many leading objects ``fields`` looks at."""

_BOM = b"\xef\xbb\xbf"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _kind(value: object) -> str:
    """The JSON name of a value's type, for messages a YAML author understands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _not_object(number: int, value: object, where: str = "") -> SourceRow:
    kind = _kind(value)
    article = "an" if kind[0] in "ao" else "a"
    return SourceRow(number, None, f"row {number} is {article} {kind}, not an object{where}")


def _field_names(objects: Iterable[object]) -> list[str]:
    names: dict[str, None] = {}
    for value in objects:
        if isinstance(value, dict):
            names.update(dict.fromkeys(value))
    return list(names)


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise SourceError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from None


class JsonSource:
    """An array of objects: the document itself, or the one ``records`` names (``data.items``;
    a number segment indexes an array, ``results.0.rows``). Keys holding dots cannot be named."""

    def __init__(self, path: Path, *, records: str | None = None) -> None:
        self.path = path
        with _open(path) as file:
            data = file.read()
        try:
            document = json.loads(data, parse_constant=_no_constant)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{path}: bytes not valid {exc.encoding} at byte {exc.start + 1}: "
                f"{exc.object[exc.start : exc.start + 8]!r}"
            ) from None
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except ValueError as exc:  # NaN, Infinity
            raise SourceError(f"{path}: not valid JSON: {exc}") from None
        except RecursionError:
            raise SourceError(f"{path}: not readable: nested too deeply") from None
        self._items = self._select(document, records)
        self._fields = _field_names(self._items[:PEEK])

    @property
    def fields(self) -> list[str]:
        return list(self._fields)

    def total(self) -> int | None:
        return len(self._items)

    def rows(self) -> Iterator[SourceRow]:
        for number, item in enumerate(self._items, 1):
            yield SourceRow(number, item) if isinstance(item, dict) else _not_object(number, item)

    def close(self) -> None:
        self._items = []

    def _select(self, document: object, records: str | None) -> list[Any]:
        if records is None:
            if not isinstance(document, list):
                raise SourceError(
                    f"{self.path}: the document is {_kind(document)!r}, not an array; "
                    "name the array of records with source.records"
                )
            return document
        current = document
        walked: list[str] = []
        for segment in records.split("."):
            where = ".".join(walked) or "the document"
            if isinstance(current, dict) and segment in current:
                current = current[segment]
            elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
                current = current[int(segment)]
            else:
                raise SourceError(
                    f"{self.path}: source.records {records!r}: {where} "
                    f"({_kind(current)}) has no {segment!r}"
                )
            walked.append(segment)
        if not isinstance(current, list):
            raise SourceError(
                f"{self.path}: source.records {records!r} is {_kind(current)!r}, not an array"
            )
        return current


class NdjsonSource(StreamedSource):
    """One JSON object per line (JSON Lines), streamed. A bad line fails its row; blank lines
    are no records. ``total()`` is ``None``: only reading the whole file could count them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = _open(path)
        self._line = 0
        self._number = 0
        try:
            self._peeked: deque[SourceRow] = deque()
            while len(self._peeked) < PEEK and (row := self._next()) is not None:
                self._peeked.append(row)
        except BaseException:
            self._file.close()
            raise
        self._fields = _field_names(row.values for row in self._peeked)

    def close(self) -> None:
        self._file.close()

    def _rows(self) -> Iterator[SourceRow]:
        while self._peeked:
            yield self._peeked.popleft()
        while (row := self._next()) is not None:
            yield row

    def _next(self) -> SourceRow | None:
        """The next record, or ``None`` at the end of the file."""
        while True:
            try:
                raw = self._file.readline()
            except OSError as exc:
                raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
            if not raw:
                return None
            self._line += 1
            if self._line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if raw.strip():
                break
        self._number = number = self._number + 1
        line = self._line
        try:
            text = raw.decode("utf-8").rstrip()
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : min(exc.end, exc.start + 8)]
            reason = f"bytes not valid utf-8 at line {line}, byte {exc.start + 1}: {bad!r}"
            return SourceRow(number, None, f"row {number}: {reason}")
        try:
            value = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            reason = f"not valid JSON at line {line}, column {exc.colno}: {exc.msg}"
            return SourceRow(number, None, f"row {number}: {reason}")
        except ValueError as exc:
            return SourceRow(number, None, f"row {number}: {exc} (line {line})")
        except RecursionError:
            return SourceRow(number, None, f"row {number}: nested too deeply (line {line})")
        if not isinstance(value, dict):
            return _not_object(number, value, f" (line {line})")
        return SourceRow(number, value)
