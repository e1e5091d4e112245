"""The other example data jobs through the real CLI: a spreadsheet import of membership fees
(typed cells, a composite match key, record-level failures, an unchanged second run) and an
update driven by an SQL query that lapses the active members without a fee for the year (a dry
run, the run, and a rerun that changes nothing)."""

from __future__ import annotations

import csv
import importlib.util
import io
import sqlite3
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest
from tests.acceptance.harness import EXAMPLES, Rota

pytestmark = pytest.mark.acceptance

FAILED_FEES = {
    ("row 6", "6"): (
        "method: 'PP' is not in the lookup (known: BT, DD, CASH) and there is no default"
    ),
    ("row 7", "7"): "year: '2062' is not allowed (allowed: 2025, 2026)",
}
FEES = [
    (1001, 2025, 60, "2025-01-15", "bank transfer"),
    (1001, 2026, 60, "2026-01-12", "bank transfer"),
    (1002, 2025, 45.5, "2025-02-03", "direct debit"),
    (1002, 2026, 45.5, "2026-02-03", "direct debit"),  # the date typed as text in the sheet
    (1003, 2025, 60, "2025-03-01", "cash"),  # "cash" in the sheet: upper-cased, then looked up
]
MEMBERS_BEFORE = {1001: "active", 1002: "active", 1003: "lapsed", 1004: "active", 1007: "active"}
LAPSED = {1004, 1007}
"""Active members without a 2026 fee: both their fee rows are the bad rows of the sheet."""


def query(rota: Rota, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(rota.project / ".rota" / "crm.db") as db:
        return db.execute(sql).fetchall()


def statuses(rota: Rota) -> dict[int, str]:
    return dict(query(rota, "SELECT member_no, status FROM members ORDER BY member_no"))


def fees_imported(rota: Rota) -> None:
    """The CRM with the example members and fees, as the docs' order of runs leaves it."""
    rota.worker()
    rota.json("run", "crm.setup", "--wait")
    rota.json("run", "members.import", "--wait", code=3)
    rota.json("run", "fees.import", "--wait", code=3)


def test_it_imports_fees_from_a_spreadsheet_partially_then_finds_them_unchanged(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    rota.worker()
    rota.json("run", "crm.setup", "--wait")
    rota.json("run", "members.import", "--wait", code=3)

    run = rota.json("run", "fees.import", "--wait", code=3)

    assert (run["status"], run["params"]) == ("partial", {"dry_run": False})
    assert run["result"] == {"dry_run": False, "records": 7, "failed": 2}
    counters = run["counters"]
    assert (counters["processed"], counters["inserted"], counters["failed"]) == (7, 5, 2)
    assert run["data_changed"] is True
    failed = rota.ok("runs", "records", str(run["id"]), "--failed", "--csv").out
    rows = list(csv.reader(io.StringIO(failed)))
    assert rows[0] == ["key", "action", "error", "attempt", "row"]
    assert {(key, row): error for key, _action, error, _attempt, row in rows[1:]} == FAILED_FEES
    records = rota.json("runs", "records", str(run["id"]))
    assert sorted(r["row"] for r in records) == [1, 2, 3, 4, 5, 6, 7]
    assert {r["key"] for r in records if r["action"] == "inserted"} == {
        f"member_no={member_no}, year={year}" for member_no, year, *_ in FEES
    }
    stored = query(
        rota, "SELECT member_no, year, amount, paid_on, method FROM fees ORDER BY member_no, year"
    )
    assert stored == FEES
    assert query(rota, "SELECT DISTINCT typeof(member_no), typeof(year) FROM fees") == [
        ("integer", "integer")
    ]

    again = rota.json("run", "fees.import", "--wait", code=3)

    counters = again["counters"]
    assert (counters["unchanged"], counters["inserted"], counters["updated"]) == (5, 0, 0)
    assert counters["failed"] == 2
    assert again["data_changed"] is False
    assert query(rota, "SELECT count(*) FROM fees") == [(5,)]


def test_it_lapses_active_members_without_a_fee_for_the_year_once(synced_rota: Rota) -> None:
    rota = synced_rota
    fees_imported(rota)
    members_before = query(rota, "SELECT * FROM members ORDER BY member_no")
    assert statuses(rota) == MEMBERS_BEFORE

    preview = rota.json("run", "members.lapse", "--dry-run", "--wait")

    assert (preview["status"], preview["params"]) == ("completed", {"dry_run": True})
    assert preview["result"] == {"dry_run": True, "records": 2, "failed": 0, "would_updated": 2}
    counters = preview["counters"]
    assert (counters["skipped"], counters["updated"], counters["failed"]) == (2, 0, 0)
    assert preview["data_changed"] is False
    logs = rota.ok("runs", "logs", str(preview["id"])).out
    for member_no in sorted(LAPSED):
        assert f"would update member_no={member_no}: status: 'active' -> 'lapsed'" in logs
    assert query(rota, "SELECT * FROM members ORDER BY member_no") == members_before

    run = rota.json("run", "members.lapse", "--wait")

    assert run["status"] == "completed"
    assert run["result"] == {"dry_run": False, "records": 2, "failed": 0}
    counters = run["counters"]
    assert (counters["processed"], counters["updated"], counters["failed"]) == (2, 2, 0)
    assert (counters["inserted"], counters["skipped"]) == (0, 0)
    assert run["data_changed"] is True
    records = rota.json("runs", "records", str(run["id"]))
    assert sorted((r["key"], r["action"]) for r in records) == [
        (f"member_no={member_no}", "updated") for member_no in sorted(LAPSED)
    ]
    assert statuses(rota) == {
        member_no: "lapsed" if member_no in LAPSED else status
        for member_no, status in MEMBERS_BEFORE.items()
    }
    # Only the status is written: e-mail, joined and country stay as they were.
    after = query(rota, "SELECT member_no, email, joined, country FROM members ORDER BY 1")
    assert after == [m[:4] for m in members_before]

    again = rota.json("run", "members.lapse", "--wait")

    assert again["status"] == "completed"
    assert again["result"] == {"dry_run": False, "records": 0, "failed": 0}
    assert (again["counters"]["processed"], again["counters"]["updated"]) == (0, 0)
    assert again["data_changed"] is False
    assert statuses(rota)[1004] == "lapsed"
    assert sum(1 for status in statuses(rota).values() if status == "lapsed") == 3


def test_the_fees_workbook_holds_what_its_script_writes() -> None:
    """fees.xlsx is generated by make_fees.py: the committed workbook must not drift from it."""
    script = EXAMPLES / "data" / "fees" / "make_fees.py"
    spec = importlib.util.spec_from_file_location("make_fees", script)
    assert spec is not None and spec.loader is not None
    make_fees = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_fees)

    workbook = openpyxl.load_workbook(EXAMPLES / "data" / "fees" / "fees.xlsx", read_only=True)
    try:
        sheet = workbook["Fees"]
        rows = [tuple(c for c in row if c is not None) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()

    def cell(value: object) -> object:  # openpyxl reads a date cell back as a datetime
        return value.date() if isinstance(value, datetime) else value

    assert rows[0] == ("Membership fees (paid)",)
    assert rows[1] == make_fees.HEADER
    assert [tuple(cell(v) for v in row) for row in rows[2:]] == make_fees.ROWS
    assert isinstance(make_fees.ROWS[0][3], date)
