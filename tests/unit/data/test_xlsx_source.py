"""XLSX sources: typed values, sheets by name or number, empty rows and error cells."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from rota.data.records import SourceError, SourceRow
from rota.data.sources import XlsxSource, check_source_config, open_source
from rota.model.errors import InvalidInputError

Book = Callable[..., Path]


@pytest.fixture
def book(tmp_path: Path) -> Book:
    """Write a workbook: each keyword is a sheet, its value the rows (lists of cell values)."""

    def write(name: str = "book.xlsx", **sheets: list[list[Any]]) -> Path:
        workbook = openpyxl.Workbook()
        workbook.remove(workbook.active)
        for title, rows in sheets.items():
            sheet = workbook.create_sheet(title)
            for row in rows:
                sheet.append(row)
        path = tmp_path / name
        workbook.save(path)
        return path

    return write


def read(path: Path, **options: Any) -> tuple[list[str], int | None, list[SourceRow]]:
    with XlsxSource(path, **options) as source:
        return source.fields, source.total(), list(source.rows())


def test_values_keep_their_types(book: Book) -> None:
    path = book(
        People=[
            ["id", "name", "born", "seen", "score", "active"],
            [1, "Ada", dt.date(1815, 12, 10), dt.datetime(2026, 11, 20, 8, 30), 9.5, True],
            [2, "Grace", dt.date(1906, 12, 9), dt.datetime(2026, 11, 20), 10, False],
        ]
    )
    fields, total, rows = read(path)
    assert fields == ["id", "name", "born", "seen", "score", "active"]
    assert total == 2
    first, second = (row.values for row in rows)
    assert first == {
        "id": 1,
        "name": "Ada",
        "born": dt.date(1815, 12, 10),
        "seen": dt.datetime(2026, 11, 20, 8, 30),
        "score": 9.5,
        "active": True,
    }
    assert type(first["born"]) is dt.date
    assert second is not None
    # Midnight in a date-and-time format stays a datetime: the format says so.
    assert type(second["seen"]) is dt.datetime
    assert type(second["score"]) is int


def test_a_sheet_by_name_or_number(book: Book) -> None:
    path = book(First=[["a"], [1]], Second=[["b"], [2]])
    assert read(path)[2] == [SourceRow(1, {"a": 1})]
    assert read(path, sheet="Second")[2] == [SourceRow(1, {"b": 2})]
    assert read(path, sheet=2)[2] == [SourceRow(1, {"b": 2})]
    with pytest.raises(SourceError, match=r"no sheet 'Third'; sheets: 'First', 'Second'"):
        read(path, sheet="Third")
    with pytest.raises(SourceError, match="no sheet 3; the workbook has 2"):
        read(path, sheet=3)


def test_a_header_further_down(book: Book) -> None:
    path = book(S=[["Monthly export"], [], ["id", "name"], [1, "a"]])
    fields, total, rows = read(path, header_row=3)
    assert fields == ["id", "name"]
    assert total == 1
    assert rows == [SourceRow(1, {"id": 1, "name": "a"})]


def test_empty_rows_are_skipped_and_short_rows_padded(book: Book) -> None:
    path = book(S=[["id", "name", "note"], [1, "a"], [], [None, None, None], [2, "b", "x"], [], []])
    _, _, rows = read(path)
    assert rows == [
        SourceRow(1, {"id": 1, "name": "a", "note": None}),
        SourceRow(2, {"id": 2, "name": "b", "note": "x"}),
    ]


def test_a_value_beyond_the_header_fails_its_row(book: Book) -> None:
    path = book(S=[["id", "name"], [1, "a", "stray"], [2, "b"]])
    _, _, rows = read(path)
    assert rows[0].error == "row 1 has 3 fields, the header has 2 (sheet row 2)"
    assert rows[1].values == {"id": 2, "name": "b"}


def test_an_error_cell_fails_its_row(book: Book) -> None:
    path = book(S=[["id", "ratio"], [1, "#DIV/0!"], [2, 0.5]])
    _, _, rows = read(path)
    assert rows[0] == SourceRow(1, None, "row 1: cell B2 is #DIV/0!")
    assert rows[1].values == {"id": 2, "ratio": 0.5}


def test_header_names_are_text_and_trimmed(book: Book) -> None:
    path = book(S=[[" id ", 2024, 2025.0, None, None], [1, 2, 3]])
    assert read(path)[0] == ["id", "2024", "2025"]


def test_header_problems_fail_the_source(book: Book) -> None:
    with pytest.raises(SourceError, match="column B has no name"):
        read(book(S=[["id", None, "x"]]))
    with pytest.raises(SourceError, match=r"'id' \(columns A, C\)"):
        read(book(S=[["id", "name", "id"]]))
    with pytest.raises(SourceError, match="header row 1 is empty"):
        read(book(S=[]))
    with pytest.raises(SourceError, match="header row 5 is empty"):
        read(book(S=[["id"], [1]]), header_row=5)


def test_a_header_only_sheet_has_no_rows(book: Book) -> None:
    assert read(book(S=[["id", "name"]])) == (["id", "name"], None, [])


def test_a_wrong_declared_dimension_does_not_truncate(book: Book, tmp_path: Path) -> None:
    path = book(S=[["id"], [1], [2], [3]])
    # Some writers declare A1 for the whole sheet; openpyxl would stop reading there.
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(
                    rb'<dimension ref="A1:A4"\s*/>', b'<dimension ref="A1"/>', data
                )
                assert count == 1
            target.writestr(item, data)
    _, total, rows = read(broken)
    assert total is None
    assert [row.values for row in rows] == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_unreadable_files_fail_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        XlsxSource(tmp_path / "missing.xlsx")
    (tmp_path / "fake.xlsx").write_text("id,name\n1,a\n")
    with pytest.raises(SourceError, match=r"not a readable \.xlsx workbook"):
        XlsxSource(tmp_path / "fake.xlsx")


def test_rows_can_be_read_once(book: Book) -> None:
    with XlsxSource(book(S=[["a"], [1]])) as source:
        list(source.rows())
        with pytest.raises(RuntimeError):
            source.rows()


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"type": "xlsx", "path": "a.xlsx", "sheet": 0}, "source.sheet"),
        ({"type": "xlsx", "path": "a.xlsx", "sheet": ""}, "source.sheet"),
        ({"type": "xlsx", "path": "a.xlsx", "sheet": True}, "source.sheet"),
        ({"type": "xlsx", "path": "a.xlsx", "header_row": 0}, "source.header_row"),
        ({"type": "xlsx", "path": "a.xlsx", "encoding": "utf-8"}, "source.encoding"),
    ],
)
def test_check_source_config_names_the_bad_xlsx_option(config: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_source_config(config)
    assert caught.value.field == field


def test_open_source_opens_an_xlsx_inside_the_folders(book: Book, tmp_path: Path) -> None:
    book("people.xlsx", Data=[["id"], [7]])
    source = open_source({"type": "xlsx", "path": "people.xlsx", "sheet": "Data"}, [tmp_path])
    try:
        assert [row.values for row in source.rows()] == [{"id": 7}]
    finally:
        source.close()
