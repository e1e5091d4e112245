"""Excel workbooks (.xlsx) as a data job source, streamed with openpyxl's read-only mode.

Values keep the types the cells have (numbers as ``int``/``float``, booleans, text), so a
mapping does not have to re-parse what Excel already knew. Dates come out as ``datetime``;
a midnight ``datetime`` in a date-only number format (``yyyy-mm-dd``, ``dd/mm/yy``) becomes a
``date``, since that is what the sheet shows. Formulas give their cached results (a workbook
saved by a program that never calculated has none: those cells read as empty). A cell holding
an error (``#DIV/0!``, ``#N/A``) fails its row instead of passing the error text on as data.

The sheet's declared dimension is *not* trusted for reading: some writers declare ``A1`` for
a full sheet, and openpyxl would silently stop there. It only feeds ``total()``, which is
therefore an upper bound (empty rows count) and ``None`` when the dimension says nothing.
Wholly empty rows are no records, wherever they are; messages name the sheet row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped, unused-ignore]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped, unused-ignore]

from rota.data.records import SourceError, SourceRow
from rota.data.sources.streamed import StreamedSource

# Quoted literals, [colour]/[$-locale] sections and escaped characters are not date parts.
_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_TIME_PARTS = re.compile(r"[hs]", re.IGNORECASE)


def _date_only(number_format: str) -> bool:
    return not _TIME_PARTS.search(_LITERALS.sub("", number_format))


def _header_name(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a year or code typed as a number: 2024, not 2024.0
    return str(value).strip() if value is not None else ""


class XlsxSource(StreamedSource):
    """One sheet (by name, or 1-based index; the first by default) read from ``header_row``."""

    def __init__(self, path: Path, *, sheet: str | int | None = None, header_row: int = 1) -> None:
        self.path = path
        self._header_row = header_row
        try:
            self._workbook: Any = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except FileNotFoundError:
            raise SourceError(f"{path}: file not found") from None
        except IsADirectoryError:
            raise SourceError(f"{path}: is a folder, not a file") from None
        except Exception as exc:  # zip, XML and openpyxl's own errors: all mean "not readable"
            raise SourceError(f"{path}: not a readable .xlsx workbook: {exc}") from None
        try:
            self._sheet: Any = self._pick(sheet)
            max_row = self._sheet.max_row
            self._total = max_row - header_row if max_row and max_row > header_row else None
            self._sheet.reset_dimensions()
            self._cells: Iterator[tuple[Any, ...]] = self._sheet.iter_rows(min_row=header_row)
            self._fields = self._read_header()
        except BaseException:
            self.close()
            raise

    def total(self) -> int | None:
        return self._total

    def close(self) -> None:
        self._workbook.close()

    def _pick(self, sheet: str | int | None) -> Any:
        sheets = list(self._workbook.worksheets)
        names = ", ".join(repr(s.title) for s in sheets)
        if not sheets:
            raise SourceError(f"{self.path}: the workbook has no worksheets")
        if sheet is None:
            return sheets[0]
        if isinstance(sheet, int):
            if 1 <= sheet <= len(sheets):
                return sheets[sheet - 1]
            raise SourceError(f"{self.path}: no sheet {sheet}; the workbook has {len(sheets)}")
        for candidate in sheets:
            if candidate.title == sheet:
                return candidate
        raise SourceError(f"{self.path}: no sheet {sheet!r}; sheets: {names}")

    def _read_header(self) -> list[str]:
        where = f"{self.path}: sheet {self._sheet.title!r}, header row {self._header_row}"
        cells = next(self._cells, None)
        values = [cell.value for cell in cells or ()]
        while values and values[-1] is None:
            values.pop()
        if not values:
            raise SourceError(f"{where} is empty")
        names = [_header_name(value) for value in values]
        empty = [get_column_letter(i) for i, name in enumerate(names, 1) if not name]
        if empty:
            raise SourceError(f"{where}: column {', '.join(empty)} has no name")
        counts = Counter(names)
        twice = [
            f"{name!r} (columns "
            f"{', '.join(get_column_letter(i) for i, n in enumerate(names, 1) if n == name)})"
            for name, count in counts.items()
            if count > 1
        ]
        if twice:
            raise SourceError(f"{where}: names more than once: {'; '.join(twice)}")
        return names

    def _rows(self) -> Iterator[SourceRow]:
        width = len(self._fields)
        number = 0
        try:
            for sheet_row, cells in enumerate(self._cells, self._header_row + 1):
                values = [cell.value for cell in cells]
                while values and values[-1] is None:
                    values.pop()
                if not values:
                    continue
                number += 1
                yield self._row(number, sheet_row, cells[: len(values)], width)
        except SourceError:
            raise
        except Exception as exc:  # a corrupt sheet found mid-way fails the run, named
            raise SourceError(
                f"{self.path}: sheet {self._sheet.title!r} unreadable after row {number}: {exc}"
            ) from None

    def _row(self, number: int, sheet_row: int, cells: tuple[Any, ...], width: int) -> SourceRow:
        for column, cell in enumerate(cells, 1):
            if getattr(cell, "data_type", None) == "e":
                where = f"{get_column_letter(column)}{sheet_row}"
                return SourceRow(number, None, f"row {number}: cell {where} is {cell.value}")
        if len(cells) > width:
            return SourceRow(
                number,
                None,
                f"row {number} has {len(cells)} fields, the header has {width} "
                f"(sheet row {sheet_row})",
            )
        values: dict[str, Any] = dict.fromkeys(self._fields)
        for name, cell in zip(self._fields, cells, strict=False):
            value = cell.value
            if isinstance(value, dt.datetime) and value.time() == dt.time():
                number_format = getattr(cell, "number_format", None)
                if number_format and _date_only(number_format):
                    value = value.date()
            values[name] = value
        return SourceRow(number, values)
