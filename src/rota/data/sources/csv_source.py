"""CSV files as a data job source: streamed, and a bad line fails one record, not the run.

Real CSV files arrive from spreadsheets and other systems with a stray Windows-1252 ``é`` in
a UTF-8 file, a ragged line, a quote never closed. Each of those becomes a :class:`SourceRow`
with an error that names the row (and the file line), and reading goes on with the next line.
Only what makes the whole file unreadable (missing, no header, a broken header) raises
:class:`SourceError`.

How bad bytes are found: the file is decoded by one streaming :class:`io.TextIOWrapper` with
an error handler that turns every undecodable byte ``b`` into the lone surrogate
``U+DC00 + b`` instead of failing. Lone surrogates never come out of a correct decode of a
text codec, so after :mod:`csv` has parsed a record, a surrogate in the physical lines that
made it up marks exactly the bad bytes, which are recovered from the code points. Decoding
line by line with ``errors="strict"`` would be simpler but wrong for UTF-16 (a ``\\n`` byte is
half a character there) and cannot tell which line a multi-byte sequence broke in; this way
every codec and every quoting case (newlines inside quoted fields) is handled by the real
decoder and the real CSV parser.

Memory is bounded by the longest record: the file is read in buffered chunks, one record at a
time, and :mod:`csv`'s field size limit (128 KiB by default) stops a runaway unclosed quote.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from rota.data.records import SourceError, SourceRow
from rota.data.sources.streamed import StreamedSource
from rota.model.errors import InvalidInputError

_ESCAPE = "rota-data-escape"
_BAD = re.compile("[\udc00-\udcff]+")


def _escape_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each bad byte ``b`` becomes ``U+DC00 + b`` (any byte, unlike
    ``surrogateescape``, which refuses bytes below 0x80 that UTF-16 can also get wrong)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error(_ESCAPE, _escape_bytes)


def text_codec(encoding: str, field: str = "source.encoding") -> str:
    """The codec to decode with: any Python text codec name; ``utf-8`` also drops a BOM.

    Excel writes "CSV UTF-8" with a BOM, which would otherwise glue ``\\ufeff`` to the first
    header name. Byte-to-byte codecs (``base64``, ``rot13``) are refused: they are not text.
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise InvalidInputError(field, f"{encoding!r} is not a known encoding") from None
    if not getattr(info, "_is_text_encoding", True):
        raise InvalidInputError(field, f"{encoding!r} is not a text encoding")
    return "utf-8-sig" if info.name == "utf-8" else info.name


class _Lines:
    """The physical lines fed to :mod:`csv`, counted, keeping those of the current record."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self.number = 0
        self.current: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline()
        if not line:
            raise StopIteration
        self.number += 1
        self.current.append(line)
        return line


class CsvSource(StreamedSource):
    """A CSV file read once, front to back. ``total()`` is ``None``: counting lines would not
    count records (quoted newlines, blank lines) and a right count needs a full parse."""

    def __init__(
        self,
        path: Path,
        *,
        encoding: str = "utf-8",
        delimiter: str = ",",
        quotechar: str = '"',
        header: bool = True,
        columns: Sequence[str] | None = None,
        skip_rows: int = 0,
    ) -> None:
        self.path = path
        self._encoding = encoding
        codec = text_codec(encoding)
        if not header and not columns:
            raise InvalidInputError("source.columns", "is required when header is false")
        if header and columns:
            raise InvalidInputError("source.columns", "is only for files without a header")
        try:
            raw = path.open("rb")
        except FileNotFoundError:
            raise SourceError(f"{path}: file not found") from None
        except IsADirectoryError:
            raise SourceError(f"{path}: is a folder, not a file") from None
        except OSError as exc:
            raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from None
        self._text = io.TextIOWrapper(raw, encoding=codec, errors=_ESCAPE, newline="")
        self._lines = _Lines(self._text)
        self._reader = csv.reader(
            self._lines, delimiter=delimiter, quotechar=quotechar, strict=True
        )
        try:
            for _ in range(skip_rows):
                if next(self._lines, None) is None:
                    break
            self._fields = self._read_header() if header else list(columns or ())
        except BaseException:
            self.close()
            raise
        self._origin = "the header has" if header else "source.columns names"

    def close(self) -> None:
        self._text.close()

    def _read_header(self) -> list[str]:
        while True:
            self._lines.current = []
            line = self._lines.number + 1
            try:
                record = next(self._reader)
            except StopIteration:
                raise SourceError(f"{self.path}: empty file (no header line)") from None
            except csv.Error as exc:
                bad = self._bad_bytes(line)
                reason = bad or _csv_reason(exc, line)
                raise SourceError(f"{self.path}: header: {reason}") from None
            except OSError as exc:
                raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
            if record:
                break
        bad = self._bad_bytes(line)
        if bad:
            raise SourceError(f"{self.path}: header: {bad}")
        # A BOM the codec kept (utf-16-le, a doubled one) is never part of a name.
        names = [name.strip().lstrip("\ufeff") for name in record]
        empty = [str(i) for i, name in enumerate(names, 1) if not name]
        if empty:
            raise SourceError(f"{self.path}: header column {', '.join(empty)} has no name")
        counts = Counter(names)
        twice = [
            f"{name!r} (columns {', '.join(str(i) for i, n in enumerate(names, 1) if n == name)})"
            for name, count in counts.items()
            if count > 1
        ]
        if twice:
            raise SourceError(f"{self.path}: header names more than once: {'; '.join(twice)}")
        return names

    def _rows(self) -> Iterator[SourceRow]:
        width = len(self._fields)
        number = 0
        while True:
            self._lines.current = []
            line = self._lines.number + 1
            try:
                record = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                reason = self._bad_bytes(line) or _csv_reason(exc, line)
                yield SourceRow(number, None, f"row {number}: {reason}")
                continue
            except OSError as exc:
                raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
            if not record:
                continue  # a blank line is no record
            number += 1
            bad = self._bad_bytes(line)
            if bad:
                yield SourceRow(number, None, f"row {number}: {bad}")
            elif len(record) != width:
                error = f"row {number} has {len(record)} fields, {self._origin} {width}"
                yield SourceRow(number, None, f"{error} (line {line})")
            else:
                yield SourceRow(number, dict(zip(self._fields, record, strict=True)))

    def _bad_bytes(self, first_line: int) -> str | None:
        """Where the current record's first undecodable bytes are: file line and 1-based byte
        within that line (counted after a BOM), and the bytes themselves (at most 8)."""
        for index, text in enumerate(self._lines.current):
            match = _BAD.search(text)
            if match is None:
                continue
            bad = bytes(ord(c) - 0xDC00 for c in match.group()[:8])
            codec = self._text.encoding
            try:
                before = text[: match.start()]
                offset = len(before.encode(codec)) - len("".encode(codec))
            except UnicodeError:  # a codec that cannot encode what it decoded
                offset = match.start()
            return (
                f"bytes not valid {self._encoding} at line {first_line + index}, "
                f"byte {offset + 1}: {bad!r}"
            )
        return None


def _csv_reason(exc: csv.Error, line: int) -> str:
    message = str(exc)
    if message == "unexpected end of data":
        return f"a quoted field is not closed before the end of the file (record from line {line})"
    if message.startswith("field larger than field limit"):
        limit = csv.field_size_limit()
        return f"a field at line {line} is longer than {limit} characters (a quote not closed?)"
    if message.endswith(" expected after '\"'"):
        return f"text follows a closing quote at line {line} (double a quote inside a field)"
    return f"malformed CSV at line {line}: {message}"
