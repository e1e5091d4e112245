"""Declaring schedules: ``cron()``, ``every()``, ``once()``, ``calendar()`` on ``@job``, the
``schedules:`` entries of YAML jobs, ``overlap``/``single_instance``, what a project load adds
(the default zone, the five-year rule, excluded calendars, parameters), and business calendars
in ``calendars/*.yaml``. Every bad input is an error naming the field path and why.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rota import calendar, cron, every, job, once
from rota.jobs.calendars import load_calendars
from rota.jobs.project import PACKAGE, Project, load_project
from rota.jobs.yamljobs import parse_definitions
from rota.model.errors import DefinitionError, InvalidInputError
from rota.model.jobs import JobDefinition
from rota.model.schedules import (
    BusinessCalendar,
    MissedPolicy,
    OverlapPolicy,
    ScheduleKind,
    ScheduleSpec,
)

SOURCE = "jobs/example.yaml"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHELL_HEAD = """\
id: cleanup.nightly
kind: shell
command: [sh, cleanup.sh, "{days}"]
params:
  days: {type: int, default: 30, min: 1, max: 3650}
"""


@pytest.fixture(autouse=True)
def forget_project_modules() -> Iterator[None]:
    """Each test imports its own project under the same private package name."""
    yield
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def shell_job(schedules: str, extra: str = "") -> str:
    """A shell job file with ``schedules:`` (a YAML block, indented by the caller or not)."""
    body = textwrap.indent(textwrap.dedent(schedules).strip("\n"), "  ")
    return f"{SHELL_HEAD}{textwrap.dedent(extra)}schedules:\n{body}\n"


def parse_one(text: str) -> JobDefinition:
    (definition,) = parse_definitions(text, SOURCE)
    return definition


def yaml_error(text: str, field: str, *reason_parts: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse_definitions(text, SOURCE)
    error = info.value
    assert error.source == SOURCE
    assert error.field == field, (error.field, error.reason)
    for part in reason_parts:
        assert part in error.reason, (part, error.reason)
    return error


def check(error: InvalidInputError, field: str, *reason_parts: str) -> None:
    assert error.field == field, (error.field, error.reason)
    for part in reason_parts:
        assert part in error.reason, (part, error.reason)


def load(root: Path, **kwargs: object) -> Project:
    kwargs.setdefault("now", NOW)
    return load_project(root, **kwargs)  # type: ignore[arg-type]


def only_error(project: Project) -> DefinitionError:
    assert len(project.errors) == 1, project.errors
    return project.errors[0]


# -- the three shapes ------------------------------------------------------------------------

PYTHON_SHAPES = '''
    from datetime import date

    from rota import cron, every, job


    @job(
        id="rates.import",
        schedule=cron("0 6 * * 1-5", tz="Europe/Berlin", missed="latest"),
        params={"date": {"default": "today"}},
    )
    def import_rates(ctx, date: date) -> None:
        """Import the rates of one day."""


    @job(id="ping", schedules=[every(seconds=30), cron("0 2 * * *")])
    def ping(ctx) -> None:
        """Ping."""
'''

YAML_SHAPE = """
    id: cleanup.nightly
    kind: shell
    command: [sh, cleanup.sh]
    schedules: [{cron: "0 3 * * *", tz: Europe/Berlin, overlap: skip}, {every: 1h}]
"""


class TestShapes:
    def test_one_python_schedule(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/shapes.py", PYTHON_SHAPES)
        project = load(tmp_path)
        assert project.errors == []
        (spec,) = project.definitions["rates.import"].schedules
        assert spec.id == "rates.import:1"
        assert spec.kind is ScheduleKind.CRON
        assert spec.expression == "0 6 * * 1-5"
        assert spec.tz == "Europe/Berlin"
        assert spec.missed is MissedPolicy.LATEST

    def test_two_python_schedules_are_numbered_in_order(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/shapes.py", PYTHON_SHAPES)
        first, second = load(tmp_path).definitions["ping"].schedules
        assert (first.id, first.kind, first.expression) == (
            "ping:1",
            ScheduleKind.INTERVAL,
            "30s",
        )
        assert (second.id, second.kind, second.expression) == (
            "ping:2",
            ScheduleKind.CRON,
            "0 2 * * *",
        )

    def test_yaml_schedules(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/cleanup.yaml", YAML_SHAPE)
        project = load(tmp_path)
        assert project.errors == []
        first, second = project.definitions["cleanup.nightly"].schedules
        assert (first.id, first.kind, first.expression, first.tz) == (
            "cleanup.nightly:1",
            ScheduleKind.CRON,
            "0 3 * * *",
            "Europe/Berlin",
        )
        assert first.overlap is OverlapPolicy.SKIP
        assert (second.id, second.kind, second.expression) == (
            "cleanup.nightly:2",
            ScheduleKind.INTERVAL,
            "1h",
        )
        assert second.overlap is None  # the job's policy applies

    def test_the_same_schedule_in_python_and_yaml_is_the_same_spec(self) -> None:
        from_yaml = parse_one(shell_job("- {cron: '0 3 * * *', tz: Europe/Berlin, missed: all}"))
        declared = cron("0 3 * * *", tz="Europe/Berlin", missed="all")
        assert from_yaml.schedules[0] == declared.with_id("cleanup.nightly:1")

    def test_an_explicit_id_is_kept_and_others_are_numbered_by_position(self) -> None:
        definition = parse_one(
            shell_job("""
                - {every: 1h}
                - {cron: "0 3 * * *", id: nightly}
                - {every: 1d}
            """)
        )
        assert [s.id for s in definition.schedules] == [
            "cleanup.nightly:1",
            "nightly",
            "cleanup.nightly:3",
        ]

    def test_an_explicit_id_in_python(self) -> None:
        @job(id="reports.send", schedule=calendar("FREQ=MONTHLY;BYMONTHDAY=1", id="monthly"))
        def send(ctx: object) -> None: ...

        assert [s.id for s in send.__rota_job__.definition.schedules] == ["monthly"]  # type: ignore[attr-defined]

    def test_a_job_without_schedules_has_none(self) -> None:
        @job(id="plain")
        def plain(ctx: object) -> None: ...

        assert plain.__rota_job__.definition.schedules == ()  # type: ignore[attr-defined]

    def test_yaml_every_as_a_number_is_seconds(self) -> None:
        definition = parse_one(shell_job("- {every: 30}"))
        assert definition.schedules[0].expression == "30s"

    @pytest.mark.parametrize(
        ("declared", "kind", "expression"),
        [
            (lambda: every(seconds=30), ScheduleKind.INTERVAL, "30s"),
            (lambda: every(minutes=5), ScheduleKind.INTERVAL, "5m"),
            (lambda: every(hours=1, minutes=30), ScheduleKind.INTERVAL, "90m"),
            (lambda: every(days=1), ScheduleKind.INTERVAL, "1d"),
            (lambda: cron("@daily"), ScheduleKind.CRON, "@daily"),
            (
                lambda: once("2026-12-24T18:00:00+01:00"),
                ScheduleKind.ONCE,
                "2026-12-24T18:00:00+01:00",
            ),
            (
                lambda: once(datetime(2026, 12, 24, 17, tzinfo=UTC)),
                ScheduleKind.ONCE,
                "2026-12-24T17:00:00+00:00",
            ),
            (
                lambda: calendar("FREQ=MONTHLY;BYDAY=2TU"),
                ScheduleKind.CALENDAR,
                "FREQ=MONTHLY;BYDAY=2TU",
            ),
        ],
        ids=[
            "seconds",
            "minutes",
            "hours+minutes",
            "days",
            "cron",
            "once-text",
            "once-dt",
            "rrule",
        ],
    )
    def test_python_helpers(self, declared, kind: ScheduleKind, expression: str) -> None:  # type: ignore[no-untyped-def]
        spec = declared()
        assert isinstance(spec, ScheduleSpec)
        assert (spec.kind, spec.expression) == (kind, expression)


# -- options -------------------------------------------------------------------------------


class TestOptions:
    def test_defaults(self) -> None:
        (spec,) = parse_one(shell_job("- {cron: '0 3 * * *'}")).schedules
        assert spec.tz == ""  # filled in by the project load
        assert (spec.start, spec.end, spec.anchor) == (None, None, None)
        assert spec.jitter == 0.0
        assert spec.params == {}
        assert spec.missed is MissedPolicy.LATEST
        assert spec.grace == 60.0
        assert spec.catch_up_window == 86_400.0
        assert spec.max_catch_up == 10
        assert spec.overlap is None
        assert spec.exclude == ()

    def test_every_option_in_yaml(self) -> None:
        (spec,) = parse_one(
            shell_job("""
                - cron: "*/15 * * * *"
                  id: quarter
                  tz: Europe/Berlin
                  start: 2026-12-01T00:00:00+01:00
                  end: 2027-01-01T00:00:00Z
                  jitter: 30s
                  params: {days: 7}
                  missed: all
                  grace: 2m
                  catch_up_window: 2h
                  max_catch_up: 3
                  overlap: queue
                  exclude: [de-holidays, freeze]
            """)
        ).schedules
        assert spec.id == "quarter"
        assert spec.tz == "Europe/Berlin"
        assert spec.start == datetime(2026, 11, 30, 23, tzinfo=UTC)
        assert spec.start.utcoffset() == timedelta(hours=1)  # type: ignore[union-attr]
        assert spec.end == datetime(2027, 1, 1, tzinfo=UTC)
        assert spec.jitter == 30.0
        assert spec.params == {"days": 7}
        assert spec.missed is MissedPolicy.ALL
        assert spec.grace == 120.0
        assert spec.catch_up_window == 7200.0
        assert spec.max_catch_up == 3
        assert spec.overlap is OverlapPolicy.QUEUE
        assert spec.exclude == ("de-holidays", "freeze")

    def test_every_option_in_python(self) -> None:
        spec = every(
            hours=1,
            id="hourly",
            start=datetime(2026, 12, 1, tzinfo=timezone(timedelta(hours=1))),
            end="2027-01-01T00:00:00Z",
            jitter="1m",
            params={"days": 7},
            missed="skip",
            grace=30,
            catch_up_window="1d",
            max_catch_up=5,
            overlap="cancel_previous",
            exclude="de-holidays",
            anchor="2026-01-01T00:07:00Z",
        )
        assert spec.id == "hourly"
        assert spec.start == datetime(2026, 11, 30, 23, tzinfo=UTC)
        assert spec.end == datetime(2027, 1, 1, tzinfo=UTC)
        assert (spec.jitter, spec.grace, spec.catch_up_window) == (60.0, 30.0, 86_400.0)
        assert spec.missed is MissedPolicy.SKIP
        assert spec.max_catch_up == 5
        assert spec.overlap is OverlapPolicy.CANCEL_PREVIOUS
        assert spec.exclude == ("de-holidays",)  # one name alone is a list of one
        assert spec.anchor == datetime(2026, 1, 1, 0, 7, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [("30s", 30.0), ("2h", 7200.0), ("1h30m", 5400.0), ("2 days", 172_800.0), ("45", 45.0)],
    )
    def test_durations(self, text: str, seconds: float) -> None:
        (spec,) = parse_one(shell_job(f"- {{every: 1h, grace: '{text}'}}")).schedules
        assert spec.grace == seconds

    def test_durations_as_numbers(self) -> None:
        (spec,) = parse_one(shell_job("- {every: 1h, grace: 0, jitter: 2.5}")).schedules
        assert (spec.grace, spec.jitter) == (0.0, 2.5)

    @pytest.mark.parametrize("policy", list(MissedPolicy))
    def test_missed_policies(self, policy: MissedPolicy) -> None:
        (spec,) = parse_one(shell_job(f"- {{every: 1h, missed: {policy.value}}}")).schedules
        assert spec.missed is policy

    @pytest.mark.parametrize("policy", list(OverlapPolicy))
    def test_overlap_policies(self, policy: OverlapPolicy) -> None:
        (spec,) = parse_one(shell_job(f"- {{every: 1h, overlap: {policy.value}}}")).schedules
        assert spec.overlap is policy

    def test_once_with_a_zone_name(self) -> None:
        (spec,) = parse_one(shell_job("- {once: '2026-12-24T18:00:00[Europe/Berlin]'}")).schedules
        assert spec.kind is ScheduleKind.ONCE
        assert spec.expression == "2026-12-24T18:00:00[Europe/Berlin]"

    def test_a_calendar_rule_in_yaml(self) -> None:
        (spec,) = parse_one(
            shell_job("- {calendar: 'FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17;BYMINUTE=0'}")
        ).schedules
        assert spec.kind is ScheduleKind.CALENDAR


class TestOverlapOfTheJob:
    def test_the_default_is_skip(self) -> None:
        assert parse_one(shell_job("- {every: 1h}")).overlap is OverlapPolicy.SKIP

    def test_single_instance_true_is_overlap_skip(self) -> None:
        single = parse_one(shell_job("- {every: 1h}", "single_instance: true\n"))
        skip = parse_one(shell_job("- {every: 1h}", "overlap: skip\n"))
        assert single.overlap is OverlapPolicy.SKIP
        assert single.fingerprint == skip.fingerprint

    def test_single_instance_with_overlap_skip_agrees(self) -> None:
        both = parse_one(shell_job("- {every: 1h}", "single_instance: true\noverlap: skip\n"))
        assert both.overlap is OverlapPolicy.SKIP

    @pytest.mark.parametrize("policy", ["queue", "allow", "cancel_previous"])
    def test_other_policies_on_the_job(self, policy: str) -> None:
        definition = parse_one(shell_job("- {every: 1h}", f"overlap: {policy}\n"))
        assert definition.overlap is OverlapPolicy(policy)

    @pytest.mark.parametrize("policy", ["allow", "queue", "cancel_previous"])
    def test_single_instance_contradicting_overlap_is_an_error(self, policy: str) -> None:
        yaml_error(
            shell_job("- {every: 1h}", f"single_instance: true\noverlap: {policy}\n"),
            "single_instance",
            f"contradicts overlap: {policy}",
        )

    def test_an_unknown_job_overlap_is_an_error(self) -> None:
        yaml_error(shell_job("- {every: 1h}", "overlap: never\n"), "overlap", "'never'", "skip")

    def test_python_single_instance(self) -> None:
        @job(id="one", single_instance=True)
        def one(ctx: object) -> None: ...

        @job(id="queued", overlap="queue")
        def queued(ctx: object) -> None: ...

        assert one.__rota_job__.definition.overlap is OverlapPolicy.SKIP  # type: ignore[attr-defined]
        assert queued.__rota_job__.definition.overlap is OverlapPolicy.QUEUE  # type: ignore[attr-defined]

    def test_python_single_instance_contradicting_overlap(self) -> None:
        with pytest.raises(InvalidInputError) as info:

            @job(id="both", single_instance=True, overlap="allow")
            def both(ctx: object) -> None: ...

        check(info.value, "single_instance", "contradicts overlap: allow")


# -- bad input in YAML: the field path and the reason ------------------------------------------


class TestYamlErrors:
    @pytest.mark.parametrize(
        ("entries", "field", "reason"),
        [
            (
                "- {every: 1h}\n- {cron: '0 3 * * *', every: 1h}",
                "schedules[1]",
                "exactly one of cron, every, once or calendar",
            ),
            ("- {tz: UTC}", "schedules[0]", "exactly one of cron, every, once or calendar"),
            ("- '0 3 * * *'", "schedules[0]", "must be a mapping"),
            ("- {cron: '0 3 * * *', when: daily}", "schedules[0].when", "is not a schedule field"),
            ("- {cron: 3}", "schedules[0].cron", "must be text"),
            (
                "- {every: 1h}\n- {cron: '61 * * * *'}",
                "schedules[1].cron",
                "61 is out of range 0-59",
            ),
            ("- {cron: '0 25 * * *'}", "schedules[0].cron", "field 2 (hour)"),
            ("- {cron: '* * * *'}", "schedules[0].cron", "has 4 fields"),
            ("- {cron: '@fortnightly'}", "schedules[0].cron", "unknown alias"),
            ("- {cron: '0 0 31 2 *'}", "schedules[0].cron", "never fires"),
            ("- {once: '2026-12-24T18:00:00'}", "schedules[0].once", "has no UTC offset"),
            ("- {once: 'Christmas'}", "schedules[0].once", "not an ISO 8601"),
            ("- {every: 0.5s}", "schedules[0].every", "at least one second"),
            ("- {every: 0.5}", "schedules[0].every", "at least one second"),
            ("- {every: 5 fortnights}", "schedules[0].every", "unknown unit"),
            ("- {calendar: 'FREQ=HOURLY'}", "schedules[0].calendar", "FREQ must be DAILY"),
            (
                "- {calendar: 'FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1'}",
                "schedules[0].calendar",
                "add a DTSTART line",
            ),
            (
                "- {cron: '0 3 * * *', tz: Mars/Olympus}",
                "schedules[0].tz",
                "unknown time zone 'Mars/Olympus'",
            ),
            ("- {cron: '0 3 * * *', tz: ../etc/passwd}", "schedules[0].tz", "not an IANA"),
            ("- {every: 1h, missed: sometimes}", "schedules[0].missed", "skip, latest, all"),
            (
                "- {every: 1h, overlap: never}",
                "schedules[0].overlap",
                "skip, queue, allow, cancel_previous",
            ),
            ("- {every: 1h, start: '2026-12-01T00:00:00'}", "schedules[0].start", "UTC offset"),
            ("- {every: 1h, end: tomorrow}", "schedules[0].end", "not an ISO 8601 instant"),
            (
                "- {every: 1h, start: '2027-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z'}",
                "schedules[0].end",
                "must be after start",
            ),
            ("- {every: 1h, anchor: '2026-01-01T00:00'}", "schedules[0].anchor", "UTC offset"),
            ("- {every: 1h, grace: -5}", "schedules[0].grace", "must not be negative"),
            ("- {every: 1h, jitter: soon}", "schedules[0].jitter", "not an interval"),
            ("- {every: 1h, catch_up_window: 0}", "schedules[0].catch_up_window", "positive"),
            ("- {every: 1h, max_catch_up: 0}", "schedules[0].max_catch_up", "between 1 and 10000"),
            ("- {every: 1h, params: [7]}", "schedules[0].params", "must be a mapping"),
            ("- {every: 1h, id: Nightly Run}", "schedules[0].id", "lowercase"),
            ("- {cron: ''}", "schedules[0].cron", "must not be empty"),
        ],
    )
    def test_the_error_names_the_field(self, entries: str, field: str, reason: str) -> None:
        yaml_error(shell_job(entries), field, reason)

    def test_a_very_long_expression(self) -> None:
        yaml_error(shell_job(f"- {{cron: '{'0,' * 200}0 * * * *'}}"), "schedules[0].cron", "limit")

    def test_two_schedules_with_one_id(self) -> None:
        yaml_error(
            shell_job("- {every: 1h, id: same}\n- {cron: '0 3 * * *', id: same}"),
            "schedules",
            "share one id",
        )

    def test_an_explicit_id_equal_to_a_generated_one(self) -> None:
        yaml_error(
            shell_job("- {every: 1h}\n- {cron: '0 3 * * *', id: 'cleanup.nightly:1'}"),
            "schedules",
            "share one id",
        )

    def test_schedules_must_be_a_list(self) -> None:
        with pytest.raises(DefinitionError) as info:
            parse_definitions(f"{SHELL_HEAD}schedules: {{cron: '0 3 * * *'}}\n", SOURCE)
        assert info.value.field == "schedules"

    def test_in_a_file_of_several_jobs_the_field_names_the_job(self) -> None:
        text = textwrap.dedent("""
            - id: a
              kind: shell
              command: [echo, ok]
            - id: b
              kind: shell
              command: [echo, ok]
              schedules: [{every: 1h}, {cron: "0 3 * * * * *"}]
        """)
        yaml_error(text, "[1].schedules[1].cron", "has 7 fields")

    def test_an_empty_interval_names_every(self) -> None:
        yaml_error(shell_job("- {every: ''}"), "schedules[0].every", "must not be empty")

    def test_a_zero_duration_with_a_unit(self) -> None:
        (spec,) = parse_one(shell_job("- {every: 1h, grace: 0s, jitter: 0s}")).schedules
        assert (spec.grace, spec.jitter) == (0.0, 0.0)

    @pytest.mark.parametrize(
        ("option", "field", "reason"),
        [
            ("max_catch_up: ten", "schedules[0].max_catch_up", "whole number"),
            ("max_catch_up: 2.5", "schedules[0].max_catch_up", "whole number"),
            ("tz: 5", "schedules[0].tz", "must be text"),
            ("id: 5", "schedules[0].id", "must be text"),
            ("exclude: 5", "schedules[0].exclude", "calendar name"),
            ("exclude: [a, 5]", "schedules[0].exclude", "calendar name"),
            ("jitter: [1]", "schedules[0].jitter", "duration"),
            ("grace: true", "schedules[0].grace", "duration"),
        ],
    )
    def test_an_option_of_the_wrong_type(self, option: str, field: str, reason: str) -> None:
        yaml_error(shell_job(f"- {{every: 1h, {option}}}"), field, reason)

    def test_a_wrongly_typed_option_does_not_crash_the_project_load(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/good.yaml", "id: good\nkind: shell\ncommand: [echo, ok]\n")
        write(tmp_path, "jobs/bad.yaml", shell_job("- {every: 1h, max_catch_up: ten}"))
        project = load(tmp_path)
        assert list(project.definitions) == ["good"]
        assert only_error(project).field == "schedules[0].max_catch_up"


# -- bad input in Python -----------------------------------------------------------------------


class TestPythonErrors:
    @pytest.mark.parametrize(
        ("declare", "field", "reason"),
        [
            (lambda: cron("61 * * * *"), "cron", "61 is out of range 0-59"),
            (lambda: cron("0 3 * * *", tz="Mars/Olympus"), "tz", "unknown time zone"),
            (lambda: once(datetime(2026, 12, 24, 18)), "once", "naive"),
            (lambda: once("2026-12-24T18:00"), "once", "has no UTC offset"),
            (lambda: every(seconds=0.5), "every", "at least one second"),
            (lambda: every(minutes=0), "every", "at least one second"),
            (lambda: calendar("FREQ=MINUTELY"), "calendar", "FREQ must be DAILY"),
            (lambda: cron("0 3 * * *", missed="often"), "missed", "skip, latest, all"),
            (lambda: every(hours=1, overlap="sometimes"), "overlap", "cancel_previous"),
            (lambda: every(hours=1, start="2026-12-01T00:00"), "start", "UTC offset"),
            (lambda: every(hours=1, grace="soon"), "grace", "not an interval"),
            (lambda: every(hours=1, params=[1]), "params", "mapping"),
        ],
    )
    def test_the_helper_refuses_with_the_field(self, declare, field: str, reason: str) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(InvalidInputError) as info:
            declare()
        check(info.value, field, reason)

    def test_schedule_and_schedules_together(self) -> None:
        with pytest.raises(InvalidInputError) as info:

            @job(id="x", schedule=every(hours=1), schedules=[every(hours=2)])
            def x(ctx: object) -> None: ...

        check(info.value, "schedules", "not both")

    def test_schedules_must_be_declared_with_the_helpers(self) -> None:
        with pytest.raises(InvalidInputError) as info:

            @job(id="x", schedules=[every(hours=1), "0 3 * * *"])  # type: ignore[list-item]
            def x(ctx: object) -> None: ...

        check(info.value, "schedules[1]", "cron(...)")

    def test_a_bad_schedule_in_a_module_is_reported_for_its_file(self, tmp_path: Path) -> None:
        write(
            tmp_path,
            "jobs/bad.py",
            """
            from rota import cron, job


            @job(id="bad", schedule=cron("0 25 * * *"))
            def bad(ctx) -> None: ...
            """,
        )
        write(tmp_path, "jobs/good.yaml", "id: good\nkind: shell\ncommand: [echo, ok]\n")
        project = load(tmp_path)
        error = only_error(project)
        assert (error.source, error.field) == ("jobs/bad.py", "cron")
        assert "25 is out of range 0-23" in error.reason
        assert list(project.definitions) == ["good"]

    def test_an_unknown_option_is_refused(self) -> None:
        with pytest.raises(InvalidInputError) as info:
            cron("0 3 * * *", misssed="all")
        check(info.value, "misssed", "not a schedule field")


# -- what the project load adds ----------------------------------------------------------------


class TestProjectLoad:
    def test_the_project_default_zone_fills_in_schedules_without_one(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/shapes.py", PYTHON_SHAPES)
        write(tmp_path, "jobs/cleanup.yaml", YAML_SHAPE)
        project = load(tmp_path, default_tz="Europe/Berlin")
        assert project.errors == []
        zones = {s.id: s.tz for d in project.definitions.values() for s in d.schedules}
        assert zones == {
            "rates.import:1": "Europe/Berlin",
            "ping:1": "Europe/Berlin",
            "ping:2": "Europe/Berlin",
            "cleanup.nightly:1": "Europe/Berlin",
            "cleanup.nightly:2": "Europe/Berlin",
        }

    def test_a_named_zone_beats_the_default(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {cron: '0 3 * * *', tz: America/New_York}"))
        project = load(tmp_path, default_tz="Europe/Berlin")
        assert project.definitions["cleanup.nightly"].schedules[0].tz == "America/New_York"

    def test_without_a_default_it_is_utc(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {cron: '0 3 * * *'}"))
        assert load(tmp_path).definitions["cleanup.nightly"].schedules[0].tz == "UTC"

    def test_the_default_zone_changes_the_version(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {cron: '0 3 * * *'}"))
        utc = load(tmp_path).definitions["cleanup.nightly"]
        berlin = load(tmp_path, default_tz="Europe/Berlin").definitions["cleanup.nightly"]
        assert utc.fingerprint != berlin.fingerprint

    def test_an_unknown_calendar_in_exclude(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/holidays.yaml", "id: de-holidays\ndates: [2026-12-25]\n")
        write(
            tmp_path,
            "jobs/j.yaml",
            shell_job("- {every: 1h, exclude: de-holidays}\n- {every: 1d, exclude: [de-holidayz]}"),
        )
        write(tmp_path, "jobs/good.yaml", "id: good\nkind: shell\ncommand: [echo, ok]\n")
        project = load(tmp_path)
        error = only_error(project)
        assert (error.source, error.field) == ("jobs/j.yaml", "schedules[1].exclude")
        assert "no business calendar 'de-holidayz'" in error.reason
        assert "cleanup.nightly" not in project.definitions
        assert "good" in project.definitions

    def test_a_known_calendar_in_exclude(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/holidays.yaml", "id: de-holidays\ndates: [2026-12-25]\n")
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, exclude: [de-holidays]}"))
        project = load(tmp_path)
        assert project.errors == []
        assert project.definitions["cleanup.nightly"].schedules[0].exclude == ("de-holidays",)

    def test_exclude_without_a_calendars_folder(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, exclude: [de-holidays]}"))
        assert only_error(load(tmp_path)).field == "schedules[0].exclude"

    def test_a_python_job_excluding_an_unknown_calendar(self, tmp_path: Path) -> None:
        write(
            tmp_path,
            "jobs/p.py",
            """
            from rota import cron, job


            @job(id="p", schedules=[cron("0 6 * * *"), cron("0 7 * * *", exclude=["nope"])])
            def p(ctx) -> None: ...
            """,
        )
        error = only_error(load(tmp_path))
        assert (error.source, error.field) == ("jobs/p.py", "schedules[1].exclude")

    def test_schedule_params_invalid_for_the_job(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h}\n- {every: 1d, params: {days: 0}}"))
        error = only_error(load(tmp_path))
        assert (error.source, error.field) == ("jobs/j.yaml", "schedules[1].params.days")

    def test_schedule_params_of_the_wrong_type(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, params: {days: many}}"))
        assert only_error(load(tmp_path)).field == "schedules[0].params.days"

    def test_an_unknown_schedule_param(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, params: {dayz: 3}}"))
        error = only_error(load(tmp_path))
        assert error.field == "schedules[0].params.dayz"
        assert "unknown parameter" in error.reason

    def test_a_required_parameter_missing_from_the_schedule(self, tmp_path: Path) -> None:
        write(
            tmp_path,
            "jobs/p.py",
            """
            from rota import every, job


            @job(id="greet", schedules=[every(hours=1, params={"name": "Ada"}), every(days=1)])
            def greet(ctx, name: str) -> None: ...
            """,
        )
        error = only_error(load(tmp_path))
        assert (error.source, error.field) == ("jobs/p.py", "schedules[1].params.name")
        assert "required" in error.reason

    def test_schedule_params_that_fit(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, params: {days: 7}}"))
        project = load(tmp_path)
        assert project.errors == []
        assert project.definitions["cleanup.nightly"].schedules[0].params == {"days": 7}

    def test_a_rule_that_never_fires_within_five_years(self, tmp_path: Path) -> None:
        # February 29th on a Monday: 2044, more than five years after NOW.
        write(
            tmp_path,
            "jobs/j.yaml",
            shell_job(
                "- {every: 1h}\n- {calendar: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO'}"
            ),
        )
        error = only_error(load(tmp_path))
        assert error.field == "schedules[1].calendar"
        assert "never fires in the next 5 years" in error.reason

    def test_an_invalid_schedule_does_not_hide_other_jobs(self, tmp_path: Path) -> None:
        write(tmp_path, "jobs/shapes.py", PYTHON_SHAPES)
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, params: {days: 0}}"))
        project = load(tmp_path)
        assert sorted(project.definitions) == ["ping", "rates.import"]
        assert [e.source for e in project.errors] == ["jobs/j.yaml"]


# -- business calendars ------------------------------------------------------------------------

FULL_CALENDAR = """
    id: de-holidays
    tz: Europe/Berlin
    description: Holidays and the year-end freeze
    dates: [2026-12-24, 2026-12-25]
    ranges: [{from: 2026-12-27, to: 2027-01-01}]
    windows:
      - {from: "02:00", to: "04:00", rrule: "FREQ=WEEKLY;BYDAY=SU"}
      - {start: 2026-06-01T00:00:00Z, end: 2026-06-02T00:00:00+02:00}
    exclude_days: "FREQ=WEEKLY;BYDAY=SA,SU"
"""


class TestCalendars:
    def test_every_field(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/de.yaml", FULL_CALENDAR)
        (cal,), errors = load_calendars(tmp_path)
        assert errors == []
        assert isinstance(cal, BusinessCalendar)
        assert (cal.id, cal.tz, cal.source) == ("de-holidays", "Europe/Berlin", "calendars/de.yaml")
        assert cal.description == "Holidays and the year-end freeze"
        assert [d.isoformat() for d in cal.dates] == ["2026-12-24", "2026-12-25"]
        assert [(a.isoformat(), b.isoformat()) for a, b in cal.ranges] == [
            ("2026-12-27", "2027-01-01")
        ]
        daily, absolute = cal.windows
        assert (daily.from_time, daily.to_time, daily.rrule) == (
            "02:00",
            "04:00",
            "FREQ=WEEKLY;BYDAY=SU",
        )
        assert absolute.start == datetime(2026, 6, 1, tzinfo=UTC)
        assert absolute.end == datetime(2026, 6, 1, 22, tzinfo=UTC)
        assert cal.rrule == "FREQ=WEEKLY;BYDAY=SA,SU"

    def test_defaults(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/c.yaml", "id: empty\n")
        (cal,), errors = load_calendars(tmp_path)
        assert errors == []
        assert (cal.tz, cal.dates, cal.ranges, cal.windows, cal.rrule) == ("UTC", (), (), (), None)

    def test_several_calendars_in_one_file_and_yml(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/a.yaml", "- id: one\n- id: two\n")
        write(tmp_path, "calendars/b.yml", "id: three\n")
        calendars, errors = load_calendars(tmp_path)
        assert errors == []
        assert sorted(c.id for c in calendars) == ["one", "three", "two"]

    def test_no_calendars_folder(self, tmp_path: Path) -> None:
        assert load_calendars(tmp_path) == ([], [])

    def test_the_project_load_reads_them(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/de.yaml", FULL_CALENDAR)
        write(tmp_path, "jobs/j.yaml", "id: good\nkind: shell\ncommand: [echo, ok]\n")
        assert [c.id for c in load(tmp_path).calendars] == ["de-holidays"]

    @pytest.mark.parametrize(
        ("text", "field", "reason"),
        [
            ("id: x\ndates: [2026-02-30]\n", "dates.0", "day value is outside expected range"),
            ("id: x\ndates: [someday]\n", "dates.0", "valid date"),
            (
                "id: x\nranges: [{from: 2026-12-27, to: 2026-12-01}]\n",
                "ranges",
                "the end is before the start",
            ),
            ("id: x\nranges: [{from: 2026-12-27}]\n", "ranges.0.to", "required"),
            (
                "id: x\nwindows: [{rrule: 'FREQ=WEEKLY;BYDAY=SU'}]\n",
                "windows[0]",
                "give either start and end (instants) or from and to (HH:MM)",
            ),
            (
                "id: x\nwindows: [{from: '02:00', to: '03:00', start: 2026-06-01T00:00:00Z, "
                "end: 2026-06-02T00:00:00Z}]\n",
                "windows[0]",
                "give either",
            ),
            (
                "id: x\nwindows: [{start: 2026-06-02T00:00:00Z, end: 2026-06-01T00:00:00Z}]\n",
                "windows[0]",
                "start before end",
            ),
            (
                "id: x\nwindows: [{start: 2026-06-01T00:00:00Z}]\n",
                "windows[0]",
                "start before end",
            ),
            (
                "id: x\nwindows: [{start: 2026-06-01T00:00:00, end: 2026-06-02T00:00:00}]\n",
                "windows[0].start",
                "UTC offset",
            ),
            ("id: x\ntz: Mars/Olympus\n", "tz", "unknown time zone"),
            ("id: x\nexclude_days: 'FREQ=SOMETIMES'\n", "exclude_days", "SOMETIMES"),
            (
                "id: x\nwindows: [{from: '02:00', to: '04:00', rrule: 'FREQ=DAILY;BYDAY=XX'}]\n",
                "windows[0].rrule",
                "",
            ),
            ("id: Bank Holidays\n", "id", "pattern"),
            ("id: x\nholidays: [2026-12-25]\n", "holidays", "Extra inputs"),
            ("dates: [2026-12-25]\n", "id", "required"),
            ("id: [unclosed\n", "yaml", ""),
        ],
    )
    def test_errors_name_the_file_and_field(
        self, tmp_path: Path, text: str, field: str, reason: str
    ) -> None:
        write(tmp_path, "calendars/bad.yaml", text)
        write(tmp_path, "calendars/good.yaml", "id: good\n")
        calendars, errors = load_calendars(tmp_path)
        assert [c.id for c in calendars] == ["good"]
        (error,) = errors
        assert isinstance(error, DefinitionError)
        assert (error.source, error.field) == ("calendars/bad.yaml", field), error.reason
        assert reason in error.reason

    def test_a_window_without_times_or_instants(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/bad.yaml", "id: x\nwindows: [{}]\n")
        _, (error,) = load_calendars(tmp_path)
        assert error.field == "windows[0]"

    def test_a_window_with_from_but_without_to_names_the_yaml_key(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/bad.yaml", "id: x\nwindows: [{from: '02:00'}]\n")
        _, (error,) = load_calendars(tmp_path)
        assert (error.field, error.reason) == ("windows[0].to", "is required")

    def test_a_window_with_a_time_that_is_not_a_time(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/bad.yaml", "id: x\nwindows: [{from: '25:00', to: '04:00'}]\n")
        _, (error,) = load_calendars(tmp_path)
        assert error.field == "windows[0].from"
        assert "'25:00' is not a time like 02:00" in error.reason

    def test_one_id_twice(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/a.yaml", "id: same\ndates: [2026-12-24]\n")
        write(tmp_path, "calendars/b.yaml", "id: same\ndates: [2026-12-25]\n")
        calendars, (error,) = load_calendars(tmp_path)
        assert [c.source for c in calendars] == ["calendars/a.yaml"]
        assert (error.source, error.field) == ("calendars/b.yaml", "id")
        assert "twice" in error.reason

    def test_a_bad_calendar_is_a_project_error(self, tmp_path: Path) -> None:
        write(tmp_path, "calendars/bad.yaml", "id: x\ndates: [2026-02-30]\n")
        write(tmp_path, "jobs/j.yaml", shell_job("- {every: 1h, exclude: [x]}"))
        project = load(tmp_path)
        assert sorted((e.source, e.field) for e in project.errors) == [
            ("calendars/bad.yaml", "dates.0"),
            ("jobs/j.yaml", "schedules[0].exclude"),
        ]
