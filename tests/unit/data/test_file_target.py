"""Export files appear whole or not at all, inside the data folders."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from rota.data.targets.files import FileTarget
from rota.model.errors import InvalidInputError

COLUMNS = ["member_no", "email", "joined", "fee"]
RECORDS = [
    {"member_no": 1, "email": "a@example.org", "joined": date(2026, 1, 2), "fee": Decimal("9.90")},
    {"member_no": 2, "email": "=cmd", "joined": None, "fee": Decimal("0.10")},
]


def export(folder: Path, kind: str, **options: object) -> Path:
    target = FileTarget({"type": kind, "path": f"out/members.{kind}", **options}, [folder], COLUMNS)
    target.write(RECORDS)
    return target.commit()


def test_csv_has_a_header_and_iso_dates(tmp_path: Path) -> None:
    path = export(tmp_path, "csv")
    assert path == (tmp_path / "out" / "members.csv").resolve()
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        COLUMNS,
        ["1", "a@example.org", "2026-01-02", "9.90"],
        ["2", "=cmd", "", "0.10"],
    ]


def test_json_is_an_array_of_objects_with_exact_decimals(tmp_path: Path) -> None:
    data = json.loads(export(tmp_path, "json").read_text(encoding="utf-8"))
    assert data == [
        {"member_no": 1, "email": "a@example.org", "joined": "2026-01-02", "fee": "9.90"},
        {"member_no": 2, "email": "=cmd", "joined": None, "fee": "0.10"},
    ]


def test_xlsx_has_a_header_row(tmp_path: Path) -> None:
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    book = load_workbook(export(tmp_path, "xlsx"), read_only=True)
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    book.close()
    assert values[0] == COLUMNS
    assert values[1][:2] == [1, "a@example.org"]


def test_an_aborted_export_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    old = export(tmp_path, "csv")
    before = old.read_bytes()
    target = FileTarget({"type": "csv", "path": "out/members.csv"}, [tmp_path], COLUMNS)
    target.write(RECORDS[:1])
    target.abort()
    assert old.read_bytes() == before
    assert sorted(p.name for p in old.parent.iterdir()) == ["members.csv"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"type": "csv", "path": "../escape.csv"}, "target.path"),
        ({"type": "csv", "path": "/etc/passwd"}, "target.path"),
        ({"type": "parquet", "path": "x.parquet"}, "target.type"),
        ({"type": "csv", "path": "x.csv", "delimiter": ";;"}, "target.delimiter"),
        ({"type": "csv", "path": "x.csv", "colour": "red"}, "target.colour"),
    ],
)
def test_bad_targets_name_the_field(tmp_path: Path, config: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        FileTarget(config, [tmp_path], COLUMNS)
    assert caught.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_overwrite_false_keeps_an_existing_file(tmp_path: Path) -> None:
    export(tmp_path, "csv")
    with pytest.raises(InvalidInputError, match="exists"):
        FileTarget(
            {"type": "csv", "path": "out/members.csv", "overwrite": False}, [tmp_path], COLUMNS
        )
