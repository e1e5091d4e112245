"""A declared data job through the real CLI: the example member import into the example CRM
database, its record-level failures, an idempotent second run and a dry run."""

from __future__ import annotations

import csv
import io
import sqlite3

from tests.acceptance.harness import Rota

FAILED_MEMBERS = {
    ("row 5", "5"): "joined: '31.02.2026' is not a date in format %d.%m.%Y",
    ("row 6", "6"): "status: 'retired' is not allowed (allowed: active, lapsed)",
    ("member_no=1002", "7"): "duplicate key, also in row 2",
}


def members(rota: Rota) -> list[tuple[object, ...]]:
    with sqlite3.connect(rota.project / ".rota" / "crm.db") as db:
        return db.execute("SELECT * FROM members ORDER BY member_no").fetchall()


def test_it_imports_members_partially_then_finds_them_unchanged(synced_rota: Rota) -> None:
    rota = synced_rota
    rota.worker()
    rota.json("run", "crm.setup", "--wait")

    run = rota.json("run", "members.import", "--wait", code=3)

    assert (run["status"], run["params"]) == ("partial", {"dry_run": False})
    assert run["result"] == {"dry_run": False, "records": 8, "failed": 3}
    counters = run["counters"]
    assert (counters["processed"], counters["inserted"], counters["failed"]) == (8, 5, 3)
    assert run["data_changed"] is True
    failed = rota.ok("runs", "records", str(run["id"]), "--failed", "--csv").out
    rows = list(csv.reader(io.StringIO(failed)))
    assert rows[0] == ["key", "action", "error", "attempt", "row"]
    assert {(key, row): error for key, _action, error, _attempt, row in rows[1:]} == FAILED_MEMBERS
    records = rota.json("runs", "records", str(run["id"]))
    assert sorted(r["row"] for r in records) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert members(rota)[0] == (1001, "ada.lovelace@example.org", "2025-12-10", "Germany", "active")
    assert [m[0] for m in members(rota)] == [1001, 1002, 1003, 1004, 1007]

    again = rota.json("run", "members.import", "--wait", code=3)
    counters = again["counters"]
    assert (counters["unchanged"], counters["inserted"], counters["updated"]) == (5, 0, 0)
    assert again["data_changed"] is False


def test_a_dry_run_previews_and_changes_nothing(synced_rota: Rota) -> None:
    rota = synced_rota
    rota.worker()
    rota.json("run", "crm.setup", "--wait")

    preview = rota.json("run", "members.import", "--dry-run", "--wait", code=3)

    assert preview["params"] == {"dry_run": True}
    assert preview["result"] == {"dry_run": True, "records": 8, "failed": 3, "would_inserted": 5}
    counters = preview["counters"]
    assert (counters["skipped"], counters["failed"], counters["inserted"]) == (5, 3, 0)
    assert preview["data_changed"] is False
    logs = rota.ok("runs", "logs", str(preview["id"])).out
    assert "would insert member_no=1001" in logs
    assert members(rota) == []


def test_a_dry_run_of_another_kind_is_refused(synced_rota: Rota) -> None:
    result = synced_rota("run", "reports.send", "--dry-run")
    assert result.code == 2, result
    assert "not a data job" in result.err_words


def test_it_exports_active_members_to_a_csv_file(synced_rota: Rota) -> None:
    rota = synced_rota
    rota.worker()
    rota.json("run", "crm.setup", "--wait")
    rota.json("run", "members.import", "--wait", code=3)

    run = rota.json("run", "members.export", "--wait")

    assert run["status"] == "completed"
    assert run["info"] == {"file": "members.csv", "exported": 4}
    assert (run["counters"]["processed"], run["counters"]["succeeded"]) == (4, 4)
    assert run["data_changed"] is False
    exported = (rota.project / "data" / "exports" / "members.csv").read_text(encoding="utf-8")
    assert exported.splitlines() == [
        "member_no,email,country",
        "1001,ada.lovelace@example.org,Germany",
        "1002,grace.hopper@example.org,France",
        "1004,katherine.johnson@example.org,United States",
        "1007,margaret.hamilton@example.org,United States",
    ]
