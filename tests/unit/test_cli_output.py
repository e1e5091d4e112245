"""CSV downloads of record results cannot carry formulas into a spreadsheet."""

from __future__ import annotations

import pytest

from rota.cli.output import csv_safe


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("member_no=1001", "member_no=1001"),
        ("row 5: joined: bad", "row 5: joined: bad"),
        (None, ""),
        ("", ""),
    ],
)
def test_cells_that_start_like_a_formula_are_neutralised(value: str | None, cell: str) -> None:
    assert csv_safe(value) == cell
