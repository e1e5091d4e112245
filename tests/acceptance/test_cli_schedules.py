"""Schedules through the real CLI: ``rota schedule preview`` (text and JSON, DST across a Berlin
transition), bad expressions, ``rota schedules list|pause|resume``, ``rota groups``, and
``rota occurrences list`` after real scheduler processes (``rota up`` and ``rota scheduler``
against one database) turned fire times into runs, each exactly once.

2026 in Europe/Berlin: clocks jump from 02:00 CET to 03:00 CEST on Sunday 2026-03-29 (01:00Z)
and fall back from 03:00 CEST to 02:00 CET on Sunday 2026-10-25 (01:00Z).
"""

from __future__ import annotations

import itertools
import re
import shutil
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.acceptance.harness import MakeRota, Rota, stays, wait_until, words

from rota.cli.errors import ExitCode
from rota.model.schedules import Occurrence, OccurrenceOutcome

pytestmark = pytest.mark.acceptance

BERLIN = ZoneInfo("Europe/Berlin")
WIDE = {"COLUMNS": "200"}
"""Tables are as wide as the terminal; without one, rich wraps at 80 columns."""
EXAMPLE_SCHEDULES = {"cleanup.nightly:1", "rates.import:1", "reports.send:1"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def preview(rota: Rota, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = rota.json("schedule", "preview", *args)
    return data


def utc_times(data: dict[str, Any]) -> list[str]:
    return [f["utc"] for f in data["fires"]]


# -- rota schedule preview ---------------------------------------------------------------------


class TestPreview:
    def test_text_shows_the_description_utc_and_local_times(self, synced_rota: Rota) -> None:
        result = synced_rota.ok(
            "schedule",
            "preview",
            "0 6 * * 1-5",
            "--tz",
            "Europe/Berlin",
            "--after",
            "2026-11-20T00:00:00Z",
            "-n",
            "3",
        )

        lines = [words(line) for line in result.out.splitlines() if line.strip()]
        assert lines[0] == "At 06:00 on Monday through Friday (Europe/Berlin)"
        assert lines[1] == "UTC local (Europe/Berlin)"
        assert lines[2:] == [
            "2026-11-20T05:00:00Z 2026-11-20 06:00:00 CET (Fri)",
            "2026-11-23T05:00:00Z 2026-11-23 06:00:00 CET (Mon)",
            "2026-11-24T05:00:00Z 2026-11-24 06:00:00 CET (Tue)",
        ]

    def test_json_has_the_expression_description_and_both_times(self, synced_rota: Rota) -> None:
        data = preview(
            synced_rota, "0 6 * * 1-5", "--tz", "Europe/Berlin", "--after", "2026-11-20T00:00:00Z"
        )

        assert data["expression"] == "0 6 * * 1-5"
        assert (data["kind"], data["tz"]) == ("cron", "Europe/Berlin")
        assert data["description"] == "At 06:00 on Monday through Friday (Europe/Berlin)"
        assert len(data["fires"]) == 10  # the default count
        assert data["fires"][0] == {
            "utc": "2026-11-20T05:00:00Z",
            "local": "2026-11-20T06:00:00+01:00",
        }
        for fire in data["fires"]:
            local = instant(fire["local"])
            assert instant(fire["utc"]) == local
            assert (local.hour, local.minute) == (6, 0)
            assert local.weekday() < 5

    def test_utc_is_the_default_zone(self, synced_rota: Rota) -> None:
        data = preview(synced_rota, "0 3 * * *", "--after", "2026-11-20T00:00:00Z", "-n", "2")

        assert data["tz"] == "UTC"
        assert data["description"] == "At 03:00 every day"
        assert utc_times(data) == ["2026-11-20T03:00:00Z", "2026-11-21T03:00:00Z"]
        assert [f["local"] for f in data["fires"]] == [
            "2026-11-20T03:00:00+00:00",
            "2026-11-21T03:00:00+00:00",
        ]

    def test_a_fixed_time_in_the_spring_gap_runs_once_at_the_jump(self, synced_rota: Rota) -> None:
        args = ("30 2 * * *", "--tz", "Europe/Berlin", "--after", "2026-03-27T00:00:00Z", "-n", "4")
        data = preview(synced_rota, *args)

        assert [f["local"] for f in data["fires"]] == [
            "2026-03-27T02:30:00+01:00",
            "2026-03-28T02:30:00+01:00",
            "2026-03-29T03:00:00+02:00",  # 02:30 does not exist: at the jump
            "2026-03-30T02:30:00+02:00",
        ]
        text = synced_rota.ok("schedule", "preview", *args).out
        assert "2026-03-29T01:00:00Z 2026-03-29 03:00:00 CEST (Sun)" in words(text)

    def test_a_fixed_time_in_the_repeated_hour_runs_once_at_the_first(
        self, synced_rota: Rota
    ) -> None:
        data = preview(
            synced_rota,
            "30 2 * * *",
            "--tz",
            "Europe/Berlin",
            "--after",
            "2026-10-24T00:00:00Z",
            "-n",
            "3",
        )

        assert data["fires"] == [
            {"utc": "2026-10-24T00:30:00Z", "local": "2026-10-24T02:30:00+02:00"},
            {"utc": "2026-10-25T00:30:00Z", "local": "2026-10-25T02:30:00+02:00"},
            {"utc": "2026-10-26T01:30:00Z", "local": "2026-10-26T02:30:00+01:00"},
        ]

    @pytest.mark.parametrize(
        ("after", "day", "count"),
        [
            ("2026-03-29T00:00:00+01:00", "2026-03-29", 23),
            ("2026-10-25T00:00:00+02:00", "2026-10-25", 25),
        ],
        ids=["spring-23", "fall-25"],
    )
    def test_hourly_follows_real_instants(
        self, synced_rota: Rota, after: str, day: str, count: int
    ) -> None:
        # --after is exclusive: start a second before local midnight to include it.
        start = (instant(after) - timedelta(seconds=1)).isoformat()
        data = preview(
            synced_rota, "0 * * * *", "--tz", "Europe/Berlin", "--after", start, "-n", "30"
        )

        on_the_day = [f for f in data["fires"] if f["local"].startswith(day)]
        assert len(on_the_day) == count
        times = [instant(f["utc"]) for f in on_the_day]
        assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))

    def test_an_interval_is_absolute_across_the_fall_back(self, synced_rota: Rota) -> None:
        data = preview(
            synced_rota,
            "1h",
            "--kind",
            "interval",
            "--tz",
            "Europe/Berlin",
            "--after",
            "2026-10-24T23:30:00Z",
            "-n",
            "4",
        )

        assert data["description"] == "Every hour"
        assert [f["local"] for f in data["fires"]] == [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",  # the same wall time again, an hour later
            "2026-10-25T03:00:00+01:00",
            "2026-10-25T04:00:00+01:00",
        ]

    def test_a_calendar_rule(self, synced_rota: Rota) -> None:
        data = preview(
            synced_rota,
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=0",
            "--kind",
            "calendar",
            "--tz",
            "Europe/Berlin",
            "--after",
            "2026-11-20T00:00:00Z",
            "-n",
            "3",
        )

        assert data["description"] == "Every month on the last weekday at 17:00 (Europe/Berlin)"
        assert [f["local"] for f in data["fires"]] == [
            "2026-11-30T17:00:00+01:00",
            "2026-12-31T17:00:00+01:00",
            "2027-01-29T17:00:00+01:00",
        ]

    def test_once_in_a_named_zone(self, synced_rota: Rota) -> None:
        data = preview(
            synced_rota,
            "2026-12-24T18:00:00[Europe/Berlin]",
            "--kind",
            "once",
            "--after",
            "2026-11-20T00:00:00Z",
        )

        assert data["description"] == "Once at 2026-12-24T17:00:00Z"
        assert utc_times(data) == ["2026-12-24T17:00:00Z"]

    def test_an_aware_after_in_any_offset(self, synced_rota: Rota) -> None:
        utc = preview(synced_rota, "0 3 * * *", "--after", "2026-11-20T02:00:00Z", "-n", "1")
        offset = preview(
            synced_rota, "0 3 * * *", "--after", "2026-11-20T03:00:00+01:00", "-n", "1"
        )

        assert utc_times(utc) == utc_times(offset) == ["2026-11-20T03:00:00Z"]

    def test_without_after_the_fires_are_in_the_future(self, synced_rota: Rota) -> None:
        before = datetime.now(UTC)
        data = preview(synced_rota, "*/5 * * * *", "-n", "3")

        times = [instant(t) for t in utc_times(data)]
        assert times == sorted(times)
        assert before < times[0] <= before + timedelta(minutes=5, seconds=5)


BAD_PREVIEWS = [
    pytest.param(["61 * * * *"], "cron: field 1 (minute) at column 1: '61': 61 is out of range 0-59", id="minute"),
    pytest.param(["0 25 * * *"], "cron: field 2 (hour) at column 3: '25': 25 is out of range 0-23", id="hour"),
    pytest.param(["* * * *"], "cron: '* * * *' has 4 fields; a cron line has 5", id="fields"),
    pytest.param(["*/0 * * * *"], "cron: field 1 (minute) at column 1: '*/0': a step must be at least 1", id="step"),
    pytest.param(["0 0 31 2 *"], "cron: '0 0 31 2 *' never fires", id="never"),
    pytest.param(["@fortnightly"], "cron: unknown alias '@fortnightly'", id="alias"),
    pytest.param(["0 0 15W * 1"], "cron: a 'W' day-of-month needs '*' as the day-of-week field", id="w"),
    pytest.param(["0 3 * * *", "--tz", "Mars/Olympus"], "tz: unknown time zone 'Mars/Olympus'", id="zone"),
    pytest.param(["0 3 * * *", "--tz", "../etc/passwd"], "tz: '../etc/passwd' is not an IANA time zone name", id="zone-path"),
    pytest.param(["0.5s", "--kind", "interval"], "every: '0.5s': an interval must be at least one second", id="interval"),
    pytest.param(["90x", "--kind", "interval"], "every: '90x': unknown unit 'x'", id="unit"),
    pytest.param(["2026-12-24T18:00:00", "--kind", "once"], "once: '2026-12-24T18:00:00' has no UTC offset", id="naive-once"),
    pytest.param(["FREQ=HOURLY", "--kind", "calendar"], "calendar: FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY", id="rrule-freq"),
    pytest.param(["FREQ=WEEKLY", "--kind", "calendar"], "calendar: a weekly rule needs BYDAY", id="rrule-weekly"),
    pytest.param(["0 3 * * *", "--after", "2026-11-20T00:00:00"], "after: '2026-11-20T00:00:00' needs a UTC offset or Z", id="naive-after"),
    pytest.param(["0 3 * * *", "--after", "tomorrow"], "after: 'tomorrow' is not an ISO 8601 instant", id="bad-after"),
    pytest.param(["0 3 * * *", "-n", "0"], "count: must be between 1 and 1000", id="count"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD_PREVIEWS)
def test_a_bad_expression_exits_2_naming_the_field(
    synced_rota: Rota, args: list[str], message: str
) -> None:
    result = synced_rota("schedule", "preview", *args)

    assert result.code == ExitCode.BAD_INPUT, result
    assert result.out == ""
    assert result.err_words.startswith("error: "), result
    assert message in result.err_words, result
    assert result.err.count("\n") == 1, result.err


def test_the_description_of_either_day_says_or(synced_rota: Rota) -> None:
    data = preview(synced_rota, "0 0 13 * 5", "--after", "2026-11-01T00:00:00Z", "-n", "3")

    # Every Friday and every 13th: the days fire on either.
    assert utc_times(data) == [
        "2026-11-06T00:00:00Z",
        "2026-11-13T00:00:00Z",
        "2026-11-20T00:00:00Z",
    ]
    assert " and on Friday" not in data["description"], data["description"]


def test_an_unknown_kind_is_a_usage_error(synced_rota: Rota) -> None:
    result = synced_rota("schedule", "preview", "0 3 * * *", "--kind", "weekly")

    assert result.code == ExitCode.BAD_INPUT, result
    assert "'weekly' is not one of 'cron', 'interval', 'once', 'calendar'" in result.err_words


# -- rota schedules list / pause / resume ------------------------------------------------------


def schedules_by_id(rota: Rota, *args: str) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in rota.json("schedules", "list", *args)}


def test_the_examples_schedules_are_listed_with_their_next_fire(synced_rota: Rota) -> None:
    before = datetime.now(UTC)
    listed = schedules_by_id(synced_rota)

    assert set(listed) == EXAMPLE_SCHEDULES
    for schedule in listed.values():
        assert schedule["origin"] == "definition"
        assert schedule["tz"] == "Europe/Berlin"
        assert schedule["paused"] is False
        assert schedule["removed"] is False
        assert schedule["last_outcome"] is None
        # Computed when the template database was synced, earlier in the session.
        next_fire = instant(schedule["next_fire_at"])
        assert before - timedelta(hours=2) < next_fire < before + timedelta(days=32)

    rates = listed["rates.import:1"]
    assert (rates["job"], rates["kind"], rates["expression"]) == (
        "rates.import",
        "cron",
        "0 6 * * 1-5",
    )
    assert (rates["missed"], rates["exclude"], rates["overlap"]) == (
        "latest",
        ["de-holidays"],
        None,
    )
    assert rates["description"] == "At 06:00 on Monday through Friday (Europe/Berlin)"
    local = instant(rates["next_fire_at"]).astimezone(BERLIN)
    assert (local.hour, local.minute, local.weekday() < 5) == (6, 0, True)

    cleanup = listed["cleanup.nightly:1"]
    assert (cleanup["expression"], cleanup["overlap"]) == ("0 3 * * *", "skip")
    assert instant(cleanup["next_fire_at"]).astimezone(BERLIN).hour == 3

    report = listed["reports.send:1"]
    assert report["kind"] == "calendar"
    fire = instant(report["next_fire_at"]).astimezone(BERLIN)
    assert (fire.hour, fire.weekday() < 5) == (17, True)
    assert all(  # the last weekday of its month
        (fire + timedelta(days=d)).month != fire.month or (fire + timedelta(days=d)).weekday() >= 5
        for d in range(1, 4)
    )


def test_schedules_list_text_and_job_filter(synced_rota: Rota) -> None:
    text = words(synced_rota.ok("schedules", "list", env=WIDE).out)
    for schedule_id in EXAMPLE_SCHEDULES:
        assert schedule_id in text
    assert "At 03:00 every day (Europe/Berlin)" in text
    assert "except de-holidays" in text

    only = synced_rota.json("schedules", "list", "--job", "rates.import")
    assert [s["id"] for s in only] == ["rates.import:1"]
    assert synced_rota.json("schedules", "list", "--job", "archive.rebuild") == []


def test_an_empty_database_says_how_to_get_schedules(rota: Rota) -> None:
    rota.ok("db", "upgrade")

    assert "no schedules" in rota.ok("schedules", "list").out
    assert rota.json("schedules", "list") == []


def test_pause_and_resume(synced_rota: Rota) -> None:
    rota = synced_rota
    before = schedules_by_id(rota)["cleanup.nightly:1"]

    paused = rota.ok("schedules", "pause", "cleanup.nightly:1", "--note", "disk migration")
    assert words(paused.out) == "paused cleanup.nightly:1"

    listed = schedules_by_id(rota)
    assert listed["cleanup.nightly:1"]["paused"] is True
    assert listed["cleanup.nightly:1"]["pause_note"] == "disk migration"
    assert listed["cleanup.nightly:1"]["paused_by"]
    assert listed["rates.import:1"]["paused"] is False
    assert "paused: disk migration" in words(rota.ok("schedules", "list", env=WIDE).out)

    resumed = rota.ok("schedules", "resume", "cleanup.nightly:1")
    assert words(resumed.out).startswith("resumed cleanup.nightly:1: next fire 20")
    assert "CET)" in resumed.out or "CEST)" in resumed.out

    after = schedules_by_id(rota)["cleanup.nightly:1"]
    assert after["paused"] is False
    assert after["pause_note"] is None
    if instant(before["next_fire_at"]) > datetime.now(UTC):
        assert after["next_fire_at"] == before["next_fire_at"]
    else:  # the fire time passed while paused (the test ran at 02:00 UTC): the next one
        assert instant(after["next_fire_at"]) == instant(before["next_fire_at"]) + timedelta(days=1)
    assert "paused" not in words(
        rota.ok("schedules", "list", "--job", "cleanup.nightly", env=WIDE).out
    )


def test_pause_and_resume_print_the_schedule_as_json(synced_rota: Rota) -> None:
    paused = synced_rota.json("schedules", "pause", "rates.import:1")
    assert (paused["id"], paused["paused"], paused["pause_note"]) == ("rates.import:1", True, None)

    resumed = synced_rota.json("schedules", "resume", "rates.import:1", "--note", "back")
    assert resumed["paused"] is False
    assert instant(resumed["next_fire_at"]) > datetime.now(UTC) - timedelta(seconds=5)


@pytest.mark.parametrize(
    "args",
    [
        ["schedules", "pause", "nope:1"],
        ["schedules", "resume", "nope:1", "--json"],
        ["occurrences", "list", "--schedule", "nope:1"],
    ],
    ids=["pause", "resume", "occurrences"],
)
def test_an_unknown_schedule_is_not_found(synced_rota: Rota, args: list[str]) -> None:
    result = synced_rota(*args)

    assert result.code == ExitCode.BAD_INPUT, result
    assert result.out == ""
    assert result.err_words == "error: schedule 'nope:1' not found"


def test_occurrences_list_refuses_an_unknown_outcome(synced_rota: Rota) -> None:
    result = synced_rota("occurrences", "list", "--outcome", "sometimes")

    assert result.code == ExitCode.BAD_INPUT, result
    assert "outcome: 'sometimes' is not one of: ran, skipped:overlap" in result.err_words


def test_no_occurrences_before_a_scheduler_ran(synced_rota: Rota) -> None:
    assert synced_rota.json("occurrences", "list") == []
    synced_rota.ok("occurrences", "list")


# -- rota groups -------------------------------------------------------------------------------


def test_disable_and_enable_a_group(synced_rota: Rota) -> None:
    rota = synced_rota

    assert rota.json("groups", "list") == [
        {
            "name": "maintenance",
            "enabled": True,
            "note": None,
            "changed_by": None,
            "changed_at": None,
            "jobs": ["cleanup.nightly"],
        }
    ]

    result = rota.ok("groups", "disable", "maintenance", "--note", "year-end freeze")
    assert words(result.out) == "group maintenance disabled (1 jobs)"
    (group,) = rota.json("groups", "list")
    assert (group["enabled"], group["note"]) == (False, "year-end freeze")
    assert group["changed_by"]
    assert group["changed_at"].endswith("Z")
    text = words(rota.ok("groups", "list", env=WIDE).out)
    assert "maintenance no cleanup.nightly year-end freeze" in text

    result = rota.ok("groups", "enable", "maintenance")
    assert words(result.out) == "group maintenance enabled (1 jobs)"
    (group,) = rota.json("groups", "list")
    assert (group["enabled"], group["note"]) == (True, None)
    assert schedules_by_id(rota)["cleanup.nightly:1"]["next_fire_at"] is not None


# -- the scheduler: occurrences and the runs they made -----------------------------------------

TICK_JOB = """\
id: tick
kind: shell
command: [echo, tick]
group: fast
schedules:
  - every: 1s
"""


@pytest.fixture
def tick_rota(make_rota: MakeRota) -> Rota:
    """A project with one shell job that fires every second (in group ``fast``)."""
    rota = make_rota()
    shutil.rmtree(rota.project / "jobs")
    shutil.rmtree(rota.project / "calendars")
    (rota.project / "jobs").mkdir()
    rota.add_job_file("tick.yaml", TICK_JOB)
    return rota


def occurrences(rota: Rota, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = rota.json("occurrences", "list", "--limit", "10000", *args)
    return found


def test_schedulers_make_each_nominal_time_a_run_exactly_once(tick_rota: Rota) -> None:
    rota = tick_rota
    up = rota.spawn("up", "--port", "0", name="up")
    rota.wait_for_output(up, r"scheduler: (\d+) schedules")
    # A second scheduler against the same database: still one run per nominal time.
    scheduler = rota.spawn("scheduler", name="scheduler")
    rota.wait_for_output(scheduler, r"scheduler (\S+): 1 schedules")

    def ran() -> list[dict[str, Any]] | None:
        done = [o for o in occurrences(rota) if o["outcome"] == "ran"]
        return done if len(done) >= 4 else None

    wait_until(ran, what="four occurrences that ran", describe=rota.process_output)

    rota.ok("groups", "disable", "fast", "--note", "enough")
    wait_until(
        lambda: all(
            r["status"] in ("completed", "partial", "failed", "canceled")
            for r in rota.json("runs", "list", "--limit", "10000")
        ),
        what="the runs to end",
        describe=rota.process_output,
    )
    settled = len(occurrences(rota))
    stays(
        lambda: len(occurrences(rota)) == settled,
        seconds=3,
        interval=0.5,
        what="no occurrence while the group is disabled",
        describe=rota.process_output,
    )

    for process in (scheduler, up):
        process.popen.send_signal(signal.SIGINT)
    assert scheduler.wait() == 0, scheduler.output()
    assert up.wait() == 0, up.output()

    found = occurrences(rota)
    assert found
    for occurrence in found:
        assert {"schedule_id", "nominal_time", "outcome", "run_id"} <= set(occurrence)
        assert (occurrence["schedule_id"], occurrence["job"]) == ("tick:1", "tick")
        assert occurrence["outcome"] in ("ran", "skipped:overlap"), occurrence
        nominal = instant(occurrence["nominal_time"])
        assert occurrence["nominal_time"].endswith("Z")
        assert nominal.microsecond == 0  # whole seconds: the epoch grid of `every: 1s`
    nominal_times = [o["nominal_time"] for o in found]
    assert len(set(nominal_times)) == len(nominal_times), Counter(nominal_times)
    assert nominal_times == sorted(nominal_times, reverse=True)  # newest first

    runs = {r["id"]: r for r in rota.json("runs", "list", "--limit", "10000")}
    ran_ids = [o["run_id"] for o in found if o["outcome"] == "ran"]
    assert len(ran_ids) >= 4
    assert sorted(ran_ids) == sorted(runs), "every run stands for exactly one occurrence"
    for occurrence in found:
        if occurrence["outcome"] != "ran":
            assert occurrence["run_id"] is None
            continue
        run = rota.show(occurrence["run_id"])
        assert run["schedule_id"] == "tick:1"
        assert run["scheduled_for"] == occurrence["nominal_time"]
        assert run["trigger"] == "schedule"
        assert (run["triggered_by"], run["run_as"]) == ("rota", "rota")
        assert run["status"] == "completed"

    newest = occurrences(rota, "--schedule", "tick:1", "--outcome", "ran", "--limit", "1")
    assert len(newest) == 1
    assert newest[0]["nominal_time"] == max(
        o["nominal_time"] for o in found if o["outcome"] == "ran"
    )
    assert occurrences(rota, "--job", "nope") == []

    text = words(rota.ok("occurrences", "list", "--limit", "3", env=WIDE).out)
    assert text.startswith("nominal time schedule outcome run detail")
    assert "tick:1" in text

    schedule = schedules_by_id(rota)["tick:1"]
    assert schedule["last_outcome"] in ("ran", "skipped:overlap")
    assert schedule["last_nominal"] == found[0]["nominal_time"]


# -- the reference tables of docs/cli.md -------------------------------------------------------


def _documented_keys(heading: str) -> set[str]:
    """First-column keys (in backticks) of the table under ``heading`` in docs/cli.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text[text.index(heading) + len(heading) :]
    following = re.search(r"^#{1,6} ", section, flags=re.MULTILINE)
    if following:
        section = section[: following.start()]
    return set(re.findall(r"^\|\s*`([a-z_]+)`", section, flags=re.MULTILINE))


def test_cli_md_lists_exactly_the_keys_of_the_schedule_and_occurrence_objects(
    synced_rota: Rota,
) -> None:
    (schedule, *_) = synced_rota.json("schedules", "list")
    assert _documented_keys("## The schedule object") == set(schedule)

    now = datetime(2026, 11, 20, tzinfo=UTC)
    occurrence = Occurrence(
        id=1,
        schedule_id="rates.import:1",
        job="rates.import",
        nominal_time=now,
        outcome=OccurrenceOutcome.RAN,
        run_id=1,
        recorded_at=now,
    )
    assert _documented_keys("## The occurrence object") == set(occurrence.to_json())


def test_a_group_no_job_names_is_refused(synced_rota: Rota) -> None:
    """A typo must not look like a frozen group: nothing is switched, exit 2."""
    result = synced_rota("groups", "disable", "maintenace")

    assert result.code == ExitCode.BAD_INPUT, result
    assert "no job is in group 'maintenace'" in result.err_words
    assert [g["name"] for g in synced_rota.json("groups", "list")] == ["maintenance"]
