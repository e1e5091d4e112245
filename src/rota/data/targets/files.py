"""Files as the target of a ``transfer`` (export): CSV, JSON or XLSX inside a data folder.

The file appears whole or not at all: records are written to a hidden temporary file next to
it, which replaces the target only when the run has written every record (an interrupted or
failed export leaves the previous file as it was). Values are written as they are: dates in
ISO 8601, decimals as text in JSON (a float would round them).
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from rota.data.paths import resolve_data_path
from rota.model.errors import InvalidInputError

FILE_TYPES = ("csv", "json", "xlsx")
OPTIONS = {"type", "path", "encoding", "delimiter", "overwrite"}


class FileTarget:
    """Write records to one file; :meth:`commit` puts it in place, :meth:`abort` drops it."""

    def __init__(
        self, config: Mapping[str, Any], folders: Sequence[Path], columns: Sequence[str]
    ) -> None:
        unknown = sorted(set(config) - OPTIONS)
        if unknown:
            raise InvalidInputError(f"target.{unknown[0]}", "is not a field of a file target")
        self.kind = str(config.get("type"))
        if self.kind not in FILE_TYPES:
            raise InvalidInputError("target.type", f"must be one of: {', '.join(FILE_TYPES)}")
        self.path = resolve_data_path(str(config.get("path", "")), folders, "target.path")
        if self.path.exists() and not config.get("overwrite", True):
            raise InvalidInputError("target.path", f"{self.path.name} exists (overwrite: false)")
        self.columns = list(columns)
        self.count = 0
        encoding = str(config.get("encoding", "utf-8"))
        delimiter = str(config.get("delimiter", ","))
        if len(delimiter) != 1:
            raise InvalidInputError("target.delimiter", "must be one character")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        self._temporary = Path(name)
        self._file: IO[str] | None = None
        self._writer: Any = None
        if self.kind == "xlsx":
            os.close(handle)
            from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]

            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet("records")
            self._sheet.append(self.columns)
            return
        self._file = os.fdopen(handle, "w", encoding=encoding, newline="")
        if self.kind == "csv":
            self._writer = csv.writer(self._file, delimiter=delimiter, lineterminator="\r\n")
            self._writer.writerow(self.columns)
        else:
            self._file.write("[")

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        for values in records:
            row = [values.get(c) for c in self.columns]
            if self.kind == "csv":
                self._writer.writerow(["" if v is None else _text(v) for v in row])
            elif self.kind == "json":
                assert self._file is not None
                body = json.dumps(dict(zip(self.columns, row, strict=True)), default=_text)
                self._file.write(("," if self.count else "") + "\n" + body)
            else:
                self._sheet.append([float(v) if isinstance(v, Decimal) else v for v in row])
            self.count += 1

    def commit(self) -> Path:
        """Put the finished file in place of the target (atomic within its folder)."""
        if self._file is not None:
            if self.kind == "json":
                self._file.write("\n]\n")
            self._file.close()
        else:
            self._book.save(self._temporary)
        os.replace(self._temporary, self.path)
        return self.path

    def abort(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._temporary.unlink(missing_ok=True)


def _text(value: Any) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
