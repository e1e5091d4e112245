"""The CLI end to end: jobs in, runs out, with the exit codes and JSON that scripts rely on."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from tests.acceptance.harness import EXAMPLE_JOBS, Rota, transitions, wait_until, words

pytestmark = pytest.mark.acceptance

RUN_KEYS = {
    "id",
    "job",
    "job_version",
    "status",
    "trigger",
    "attempt",
    "params",
    "progress",
    "counters",
    "info",
    "result",
    "error",
    "created_at",
    "started_at",
    "finished_at",
}
FAILED_RATES = {
    "2026-11-20/XXX": "row 13: unknown currency 'XXX'",
    "2026-11-20/USD2": "row 14: unknown currency 'USD2'",
    "2026-11-20/GBP": "row 15: rate 'n/a' is not a number",
    "2026-11-20/CHF": "row 16: rate -0.93 must be positive",
}


# -- jobs ----------------------------------------------------------------------------------------


def test_it_migrates_the_database_then_syncs_lists_and_shows_the_example_jobs(rota: Rota) -> None:
    assert "database is up to date" in rota.ok("db", "upgrade").out

    synced = words(rota.ok("jobs", "sync").out)
    for job in sorted(EXAMPLE_JOBS):
        assert f"new {job} (version 1)" in synced
    assert f"{len(EXAMPLE_JOBS)} jobs synced" in synced

    again = rota.json("jobs", "sync")
    assert again["errors"] == []
    assert sorted((j["job"], j["version"], j["change"]) for j in again["jobs"]) == [
        (job, 1, "unchanged") for job in sorted(EXAMPLE_JOBS)
    ]

    listed = rota.json("jobs", "list")
    assert {j["id"]: (j["kind"], j["version"]) for j in listed} == {
        "archive.rebuild": ("python", 1),
        "cleanup.nightly": ("shell", 1),
        "crm.setup": ("python", 1),
        "fees.import": ("data", 1),
        "health.ping": ("http", 1),
        "members.export": ("data", 1),
        "members.import": ("data", 1),
        "members.lapse": ("data", 1),
        "members.nightly": ("process", 1),
        "rates.import": ("python", 1),
        "reports.send": ("python", 1),
    }
    assert [j["id"] for j in listed] == sorted(EXAMPLE_JOBS)

    shown = rota.json("jobs", "show", "rates.import")
    assert (shown["id"], shown["version"], shown["kind"]) == ("rates.import", 1, "python")
    assert (shown["source"], shown["idempotent"], shown["destructive"]) == (
        "jobs/rates.py",
        True,
        False,
    )
    assert shown["retry"]["max_attempts"] == 3
    params = {p["name"]: p for p in shown["params"]}
    assert list(params) == ["date", "currency", "pace"]
    assert (params["date"]["type"], params["date"]["default"]) == ("date", "today")
    assert params["currency"]["type"] == "str"
    assert (params["pace"]["type"], params["pace"]["min"], params["pace"]["max"]) == (
        "float",
        0,
        5,
    )
    assert not any(p["required"] for p in params.values())


def test_it_reports_an_invalid_job_file_by_file_and_field_and_still_loads_the_others(
    rota: Rota,
) -> None:
    rota.ok("db", "upgrade")
    rota.add_job_file(
        "broken.yaml",
        "id: broken.job\nkind: shell\ncommand: [echo, hi]\nretry: {max_attempts: many}\n",
    )
    rota.add_job_file("garbled.yml", "id: garbled\nkind: [shell\n")

    synced = rota("jobs", "sync")

    assert synced.code == 2, synced
    assert "invalid: jobs/broken.yaml: retry.max_attempts:" in synced.err_words
    assert "invalid: jobs/garbled.yml: yaml:" in synced.err_words
    assert f"{len(EXAMPLE_JOBS)} jobs synced" in words(synced.out)

    report = rota.json("jobs", "sync", code=2)
    assert sorted((e["source"], e["field"]) for e in report["errors"]) == [
        ("jobs/broken.yaml", "retry.max_attempts"),
        ("jobs/garbled.yml", "yaml"),
    ]
    assert all(e["reason"] for e in report["errors"])
    assert sorted((j["job"], j["change"]) for j in report["jobs"]) == [
        (job, "unchanged") for job in sorted(EXAMPLE_JOBS)
    ]


def test_it_gives_a_changed_job_a_new_version_that_later_runs_record(synced_rota: Rota) -> None:
    rota = synced_rota
    before = rota.json("run", "rates.import", "-p", "date=2026-11-19")
    module = rota.project / "jobs" / "rates.py"
    module.write_text(module.read_text() + "\n# reviewed: rates now come at 16:00 CET\n")

    synced = rota.json("jobs", "sync")

    changes = {j["job"]: (j["version"], j["change"]) for j in synced["jobs"]}
    assert changes.pop("rates.import") == (2, "changed")
    assert set(changes.values()) == {(1, "unchanged")}
    assert rota.json("jobs", "show", "rates.import")["version"] == 2
    after = rota.json("run", "rates.import", "-p", "date=2026-11-19")
    assert (before["job_version"], after["job_version"]) == (1, 2)


def test_it_prints_when_a_job_was_synced_in_utc_with_z(synced_rota: Rota) -> None:
    shown = synced_rota.json("jobs", "show", "rates.import")

    assert shown["synced_at"].endswith("Z"), shown["synced_at"]


# -- runs ----------------------------------------------------------------------------------------


def test_it_imports_rates_partially_and_shows_which_records_failed_and_why(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    rota.worker()

    run = rota.json(
        "run", "rates.import", "-p", "date=2026-11-20", "-p", "pace=0", "--wait", code=3
    )

    assert set(run) >= RUN_KEYS
    assert (run["job"], run["job_version"], run["status"]) == ("rates.import", 1, "partial")
    assert (run["trigger"], run["attempt"], run["error"]) == ("manual", 1, None)
    assert run["params"] == {"date": "2026-11-20", "currency": None, "pace": 0.0}
    assert run["progress"]["done"] == run["progress"]["total"] == 15
    counters = run["counters"]
    assert (counters["processed"], counters["failed"], counters["inserted"]) == (15, 4, 11)
    assert (counters["succeeded"], counters["updated"], counters["unchanged"]) == (11, 0, 0)
    assert run["info"] == {"source": "2026-11-20.csv", "rows": 15}
    assert run["result"] == {"date": "2026-11-20", "rows": 15}
    for key in ("created_at", "started_at", "finished_at"):
        assert isinstance(run[key], str), key
        assert run[key].endswith("Z"), (key, run[key])
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]
    assert [(c["system"], c["what"]) for c in run["external_calls"]] == [
        ("rates-db", "upsert rates")
    ]
    assert run["external_calls"][0]["at"].endswith("Z"), run["external_calls"]
    run_id = str(run["id"])

    failed_csv = rota.ok("runs", "records", run_id, "--failed", "--csv").out
    rows = list(csv.reader(io.StringIO(failed_csv)))
    assert rows[0] == ["key", "action", "error", "attempt", "row"]
    assert len(rows) == 1 + 4
    assert {key: error for key, _action, error, _attempt, _row in rows[1:]} == FAILED_RATES
    assert {attempt for *_, attempt, _row in rows[1:]} == {"1"}

    records = rota.json("runs", "records", run_id)
    assert len(records) == 15
    assert sum(1 for r in records if r["error"]) == 4
    assert sum(1 for r in records if r["action"] == "inserted" and not r["error"]) == 11
    assert {r["attempt"] for r in records} == {1}

    assert "read 15 rows from 2026-11-20.csv" in rota.ok("runs", "logs", run_id).out

    shown = rota.show(run["id"])
    assert [(a["number"], a["outcome"]) for a in shown["attempts"]] == [(1, "partial")]
    assert transitions(shown) == [(None, "queued"), ("queued", "running"), ("running", "partial")]

    again = rota.json(
        "run", "rates.import", "-p", "date=2026-11-20", "-p", "pace=0", "--wait", code=3
    )
    assert again["status"] == "partial"
    counters = again["counters"]
    assert (counters["processed"], counters["failed"], counters["unchanged"]) == (15, 4, 11)
    assert (counters["inserted"], counters["updated"]) == (0, 0)
    listed = rota.json("runs", "list", "--job", "rates.import")
    assert [(r["id"], r["status"]) for r in listed] == [
        (again["id"], "partial"),
        (run["id"], "partial"),
    ]


def test_it_completes_a_clean_import_and_fails_a_missing_file_without_retrying(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    rota.worker()

    clean = rota("run", "rates.import", "-p", "date=2026-11-19", "-p", "pace=0", "--wait")
    assert clean.code == 0, clean
    assert "completed" in words(clean.out)
    assert "4 processed, 4 succeeded, 0 failed" in words(clean.out)

    missing = rota.json("run", "rates.import", "-p", "date=2030-01-01", "--wait", code=1)
    assert missing["status"] == "failed"
    assert missing["error"]["type"] == "JobFailed"
    assert "no rates file for 2030-01-01" in missing["error"]["message"]
    assert missing["reason"] == "failed (not retryable)"
    assert (missing["attempt"], missing["max_attempts"]) == (1, 3)
    shown = rota.show(missing["id"])
    assert [(a["number"], a["outcome"]) for a in shown["attempts"]] == [(1, "failed")]
    assert transitions(shown) == [(None, "queued"), ("queued", "running"), ("running", "failed")]


def test_it_keeps_a_run_queued_without_a_worker_and_cancels_it_at_once(
    synced_rota: Rota,
) -> None:
    rota = synced_rota

    created = rota.json("run", "rates.import", "-p", "date=2026-11-19")

    assert set(created) >= RUN_KEYS
    assert (created["status"], created["attempt"]) == ("queued", 0)
    assert (created["started_at"], created["finished_at"]) == (None, None)
    assert created["created_at"].endswith("Z")
    run_id = str(created["id"])
    listed = rota.json("runs", "list")
    assert [(r["id"], r["status"], r["attempt"]) for r in listed] == [(created["id"], "queued", 0)]

    canceled = rota.ok("runs", "cancel", run_id)

    assert f"run {run_id} canceled" in canceled.out
    shown = rota.show(created["id"])
    assert (shown["status"], shown["reason"], shown["attempts"]) == ("canceled", "canceled", [])
    assert shown["finished_at"].endswith("Z")
    assert transitions(shown) == [(None, "queued"), ("queued", "canceled")]

    again = rota("runs", "cancel", run_id)
    assert again.code == 2, again
    assert "already ended canceled" in again.err_words


def test_it_cancels_a_running_python_job_at_its_next_cancellation_point(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    # A long grace period, so that only the job's own cancellation point can end it.
    rota.worker(env={"ROTA_CANCEL_GRACE_SECONDS": "60"})
    # 2000 documents at 0.05s: far longer than the test needs to get its cancel in.
    run_id = rota.start_run("archive.rebuild", "items=2000", "pace=0.05")
    rota.wait_for_progress(run_id, 1)

    asked = rota.ok("runs", "cancel", str(run_id))

    assert "asked to stop" in words(asked.out)
    rota.wait_for_status(run_id, "canceled")
    shown = rota.show(run_id)
    assert shown["reason"] == "canceled"  # cooperative: not stopped by force
    assert shown["cancel_requested"] is True
    assert 0 < shown["counters"]["processed"] < 2000
    assert [(a["number"], a["outcome"]) for a in shown["attempts"]] == [(1, "canceled")]
    assert transitions(shown)[-1] == ("running", "canceled")
    assert "cancel requested; stopping" in rota.ok("runs", "logs", str(run_id)).out


SHELL_SLEEPERS = """\
- id: sleepy
  kind: shell
  command: [sleep, "120"]
- id: stubborn
  kind: shell
  description: Ignores SIGTERM, so only the hard stop after the grace period ends it.
  command: [sh, -c, "trap '' TERM; echo ready $$; exec sleep 120"]
"""


def test_it_stops_shell_jobs_on_cancel_and_by_force_after_the_grace_period(
    synced_rota: Rota,
) -> None:
    rota = synced_rota
    rota.add_job_file("sleepers.yaml", SHELL_SLEEPERS)
    rota.worker(env={"ROTA_WORKER_CONCURRENCY": "2"})
    sleepy = rota.start_run("sleepy")
    stubborn = rota.start_run("stubborn")
    rota.wait_for_status(sleepy, "running")

    def stubborn_pid() -> int | None:
        for line in rota.store.get_logs(stubborn):
            if line.message.startswith("ready "):
                return int(line.message.split()[1])
        return None

    pid = wait_until(
        stubborn_pid,
        what="the stubborn command to ignore SIGTERM",
        describe=rota.describe(stubborn),
    )
    rota.strays[pid] = "sleep"

    rota.ok("runs", "cancel", str(sleepy))
    rota.ok("runs", "cancel", str(stubborn))

    # Both would sleep 120s; the default deadline is far shorter.
    rota.wait_for_status(sleepy, "canceled")
    rota.wait_for_status(stubborn, "canceled")
    ended = {r["id"]: (r["status"], r["reason"]) for r in rota.json("runs", "list")}
    assert ended[stubborn] == ("canceled", "canceled (stopped after the grace period)")
    # sleep obeys SIGTERM at once (on a starved machine the hard stop may still win the race).
    assert ended[sleepy][0] == "canceled"
    assert ended[sleepy][1].startswith("canceled")


def test_it_fails_a_shell_job_that_runs_past_its_timeout(synced_rota: Rota) -> None:
    rota = synced_rota
    rota.add_job_file("slow.yaml", "id: slow\nkind: shell\ntimeout: 1s\ncommand: [sleep, '120']\n")
    rota.worker()

    run = rota.json("run", "slow", "--wait", code=1)

    assert (run["status"], run["reason"], run["attempt"]) == ("failed", "timeout", 1)
    assert run["error"]["type"] == "Timeout"
    assert "timeout of 1s" in run["error"]["message"]


# -- rota up -------------------------------------------------------------------------------------


def _health(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:  # 503: the store is unavailable
        exc.close()
        return None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def test_it_serves_health_and_runs_jobs_in_one_process_with_rota_up(rota: Rota) -> None:
    up = rota.spawn("up", "--port", "0", name="up")

    url = rota.wait_for_output(up, r"health: (http://127\.0\.0\.1:\d+/healthz)")
    health = wait_until(lambda: _health(url), what=f"{url} to answer", describe=up.output)
    assert health == {"status": "ok", "queued": 0}

    result = rota("run", "rates.import", "-p", "date=2026-11-20", "-p", "pace=0", "--wait")

    assert result.code == 3, f"{result}\n{up.output()}"
    assert "partial" in words(result.out)
    assert _health(url) == {"status": "ok", "queued": 0}
    up.terminate()
    assert up.wait() == 0, up.output()
