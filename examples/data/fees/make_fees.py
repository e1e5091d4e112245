"""Write fees.xlsx, the workbook the ``fees.import`` example job reads (jobs/fees.yaml).

The workbook is generated rather than edited by hand so that what it holds is reviewable here;
run this script again after changing it (``python examples/data/fees/make_fees.py``) and commit
both files. The output is deterministic: the same script gives the same bytes (fixed document
dates and fixed timestamps in the zip), so an unchanged workbook never shows up as a change.

Sheet "Fees" has a title in row 1 and the header in row 2 (hence ``header_row: 2`` in the job).
The cells are typed as a spreadsheet user would leave them: member numbers and years are
numbers, amounts are numbers (``60`` and ``45.5``), most payment dates are real date cells but
one was typed as text (``03.02.2026``), and the payment methods are codes in mixed case.
Two rows are wrong on purpose, so an import ends ``partial`` with record-level reasons:

* record 6: member 1004 paid by ``PP``, a method code the job's lookup does not know;
* record 7: member 1007's year was typed as ``2062``, a year the job does not allow.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
WORKBOOK = HERE / "fees.xlsx"
STAMP = datetime(2026, 3, 1, 9, 0, 0)
"""The workbook's created/modified date and every zip entry's timestamp: fixed, not now."""

HEADER = ("Member", "Year", "Amount", "Paid on", "Method")
ROWS: list[tuple[object, ...]] = [
    (1001, 2025, 60, date(2025, 1, 15), "BT"),
    (1001, 2026, 60, date(2026, 1, 12), "BT"),
    (1002, 2025, 45.5, date(2025, 2, 3), "DD"),
    (1002, 2026, 45.5, "03.02.2026", "DD"),  # a date typed as text
    (1003, 2025, 60, date(2025, 3, 1), "cash"),  # lower case: the job upper-cases codes
    (1004, 2026, 60, date(2026, 1, 20), "PP"),  # bad: not a known payment method
    (1007, 2062, 60, date(2026, 1, 28), "BT"),  # bad: 2062 is a typo for 2026
]


def build() -> openpyxl.Workbook:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Fees"
    sheet["A1"] = "Membership fees (paid)"
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(HEADER)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in ROWS:
        sheet.append(row)
        cells = sheet[sheet.max_row]
        cells[2].number_format = "0.00"
        if isinstance(row[3], date):
            cells[3].number_format = "dd.mm.yyyy"
    for column, width in zip("ABCDE", (10, 8, 10, 12, 10), strict=True):
        sheet.column_dimensions[column].width = width
    workbook.properties.creator = "examples/data/fees/make_fees.py"
    workbook.properties.created = STAMP
    return workbook


def deterministic(data: bytes) -> bytes:
    """The same workbook with fixed zip timestamps and a fixed modified date (openpyxl stamps
    both with the current time when it saves)."""
    modified = STAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + modified.encode() + rb"\g<2>",
                    content,
                )
            entry = zipfile.ZipInfo(info.filename, date_time=STAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return out.getvalue()


def main() -> None:
    buffer = io.BytesIO()
    build().save(buffer)
    WORKBOOK.write_bytes(deterministic(buffer.getvalue()))
    print(f"wrote {WORKBOOK}")


if __name__ == "__main__":
    main()
