"""DST test vectors: Europe/Berlin, America/New_York and Australia/Sydney, 2025 and 2026.

Every expected value is a UTC instant worked out by hand from the zone's offsets:

* Berlin: CET +1 / CEST +2; changes at 01:00 UTC; gap and fold are both 02:00-02:59 local;
* New York: EST -5 / EDT -4; spring at 07:00 UTC (gap 02:00-02:59), fall at 06:00 UTC
  (fold 01:00-01:59 local);
* Sydney: AEST +10 / AEDT +11; both changes at 16:00 UTC the day before; gap and fold are
  both 02:00-02:59 local.

The rules pinned (see ``rota.schedules.cron`` and ``rota.schedules.zones``): a fixed wall time in
the gap runs once at the jump, one in the fold runs once at its first occurrence; entries with
``*`` or a step in the hour field follow real instants; intervals are absolute; RRULEs behave like
fixed-time cron entries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from rota.model.schedules import ScheduleKind, ScheduleSpec
from rota.schedules import CompiledSchedule, compile_schedule

HOUR = timedelta(hours=1)


def utc(text: str) -> datetime:
    """``2025-03-30T01:00Z`` -> an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def cron(expression: str, tz: str) -> CompiledSchedule:
    return compile_schedule(ScheduleSpec(kind=ScheduleKind.CRON, expression=expression, tz=tz))


def calendar(expression: str, tz: str) -> CompiledSchedule:
    return compile_schedule(ScheduleSpec(kind=ScheduleKind.CALENDAR, expression=expression, tz=tz))


@dataclass(frozen=True)
class Transition:
    zone: str
    day: date
    """The local date of the change."""
    kind: str
    """``spring`` (a local hour is skipped) or ``fall`` (a local hour is repeated)."""
    at: datetime
    """The UTC instant of the change."""
    before: int
    after: int
    """UTC offsets (hours) before and after the change."""
    hour: int
    """The local hour that is skipped (spring) or happens twice (fall)."""
    fixed: tuple[str, str, str]
    """``30 <hour> * * *``: its fires on the day before, on the day, on the day after (UTC)."""

    @property
    def id(self) -> str:
        return f"{self.zone}-{self.day.isoformat()}-{self.kind}"

    def local(self, instant: datetime) -> datetime:
        """The naive local wall time of ``instant``, from the hard-coded offsets only."""
        offset = self.before if instant < self.at else self.after
        return (instant + timedelta(hours=offset)).replace(tzinfo=None)


TRANSITIONS = [
    # Europe/Berlin: 02:00 CET -> 03:00 CEST and 03:00 CEST -> 02:00 CET, both at 01:00 UTC.
    Transition(
        "Europe/Berlin",
        date(2025, 3, 30),
        "spring",
        utc("2025-03-30T01:00Z"),
        1,
        2,
        2,
        ("2025-03-29T01:30Z", "2025-03-30T01:00Z", "2025-03-31T00:30Z"),
    ),
    Transition(
        "Europe/Berlin",
        date(2025, 10, 26),
        "fall",
        utc("2025-10-26T01:00Z"),
        2,
        1,
        2,
        ("2025-10-25T00:30Z", "2025-10-26T00:30Z", "2025-10-27T01:30Z"),
    ),
    Transition(
        "Europe/Berlin",
        date(2026, 3, 29),
        "spring",
        utc("2026-03-29T01:00Z"),
        1,
        2,
        2,
        ("2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"),
    ),
    Transition(
        "Europe/Berlin",
        date(2026, 10, 25),
        "fall",
        utc("2026-10-25T01:00Z"),
        2,
        1,
        2,
        ("2026-10-24T00:30Z", "2026-10-25T00:30Z", "2026-10-26T01:30Z"),
    ),
    # America/New_York: 02:00 EST -> 03:00 EDT at 07:00 UTC; 02:00 EDT -> 01:00 EST at 06:00 UTC.
    Transition(
        "America/New_York",
        date(2025, 3, 9),
        "spring",
        utc("2025-03-09T07:00Z"),
        -5,
        -4,
        2,
        ("2025-03-08T07:30Z", "2025-03-09T07:00Z", "2025-03-10T06:30Z"),
    ),
    Transition(
        "America/New_York",
        date(2025, 11, 2),
        "fall",
        utc("2025-11-02T06:00Z"),
        -4,
        -5,
        1,
        ("2025-11-01T05:30Z", "2025-11-02T05:30Z", "2025-11-03T06:30Z"),
    ),
    Transition(
        "America/New_York",
        date(2026, 3, 8),
        "spring",
        utc("2026-03-08T07:00Z"),
        -5,
        -4,
        2,
        ("2026-03-07T07:30Z", "2026-03-08T07:00Z", "2026-03-09T06:30Z"),
    ),
    Transition(
        "America/New_York",
        date(2026, 11, 1),
        "fall",
        utc("2026-11-01T06:00Z"),
        -4,
        -5,
        1,
        ("2026-10-31T05:30Z", "2026-11-01T05:30Z", "2026-11-02T06:30Z"),
    ),
    # Australia/Sydney: 03:00 AEDT -> 02:00 AEST (April) and 02:00 AEST -> 03:00 AEDT
    # (October), both at 16:00 UTC on the previous UTC day.
    Transition(
        "Australia/Sydney",
        date(2025, 4, 6),
        "fall",
        utc("2025-04-05T16:00Z"),
        11,
        10,
        2,
        ("2025-04-04T15:30Z", "2025-04-05T15:30Z", "2025-04-06T16:30Z"),
    ),
    Transition(
        "Australia/Sydney",
        date(2025, 10, 5),
        "spring",
        utc("2025-10-04T16:00Z"),
        10,
        11,
        2,
        ("2025-10-03T16:30Z", "2025-10-04T16:00Z", "2025-10-05T15:30Z"),
    ),
    Transition(
        "Australia/Sydney",
        date(2026, 4, 5),
        "fall",
        utc("2026-04-04T16:00Z"),
        11,
        10,
        2,
        ("2026-04-03T15:30Z", "2026-04-04T15:30Z", "2026-04-05T16:30Z"),
    ),
    Transition(
        "Australia/Sydney",
        date(2026, 10, 4),
        "spring",
        utc("2026-10-03T16:00Z"),
        10,
        11,
        2,
        ("2026-10-02T16:30Z", "2026-10-03T16:00Z", "2026-10-04T15:30Z"),
    ),
]
SPRING = [t for t in TRANSITIONS if t.kind == "spring"]
FALL = [t for t in TRANSITIONS if t.kind == "fall"]


def _ids(transition: Transition) -> str:
    return transition.id


def _local_midnight(transition: Transition) -> datetime:
    """The UTC instant of 00:00 local on the transition day (before the change in all three)."""
    midnight = datetime.combine(transition.day, datetime.min.time(), tzinfo=UTC)
    return midnight - timedelta(hours=transition.before)


def _fires_on_day(schedule: CompiledSchedule, transition: Transition) -> list[datetime]:
    """Every fire whose local date (by the hard-coded offsets) is the transition day."""
    start = _local_midnight(transition) - timedelta(seconds=1)
    fires = []
    for fire in schedule.fire_times(start):
        if transition.local(fire).date() > transition.day:
            break
        fires.append(fire)
    return fires


def _expected_real(transition: Transition, hours: set[int]) -> list[datetime]:
    """Oracle for "real instants": every whole UTC hour whose local wall time (from the
    hard-coded offsets) is ``HH:00`` with ``HH`` in ``hours`` on the transition day."""
    instant = _local_midnight(transition) - 2 * HOUR
    expected = []
    for _ in range(30):
        wall = transition.local(instant)
        if wall.date() == transition.day and wall.hour in hours and wall.minute == 0:
            expected.append(instant)
        instant += HOUR
    return expected


class TestVectorsAreTheRealTransitions:
    """The hard-coded table agrees with the tz database (checked with zoneinfo, not Rota)."""

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_offsets_and_local_date(self, transition: Transition) -> None:
        tz = ZoneInfo(transition.zone)
        before = (transition.at - timedelta(seconds=1)).astimezone(tz)
        after = transition.at.astimezone(tz)
        assert before.utcoffset() == timedelta(hours=transition.before)
        assert after.utcoffset() == timedelta(hours=transition.after)
        assert after.date() == transition.day
        skipped_or_repeated = transition.hour if transition.kind == "fall" else transition.hour + 1
        assert (after.hour, after.minute) == (skipped_or_repeated, 0)

    def test_there_is_one_spring_and_one_fall_per_zone_and_year(self) -> None:
        counts = Counter((t.zone, t.day.year, t.kind) for t in TRANSITIONS)
        assert len(counts) == 12
        assert set(counts.values()) == {1}


class TestFixedTimeInTheGap:
    @pytest.mark.parametrize("transition", SPRING, ids=_ids)
    def test_it_runs_once_at_the_jump(self, transition: Transition) -> None:
        schedule = cron(f"30 {transition.hour} * * *", transition.zone)
        previous, on_day, following = (utc(t) for t in transition.fixed)
        assert on_day == transition.at
        fires = list(schedule.fire_times(previous - timedelta(minutes=1), limit=3))
        assert fires == [previous, on_day, following]

    @pytest.mark.parametrize("transition", SPRING, ids=_ids)
    def test_the_jump_is_the_first_wall_time_after_the_gap(self, transition: Transition) -> None:
        schedule = cron(f"30 {transition.hour} * * *", transition.zone)
        fire = schedule.next_after(transition.at - timedelta(seconds=1))
        assert fire == transition.at
        assert transition.local(fire) == datetime.combine(
            transition.day, datetime.min.time()
        ).replace(hour=transition.hour + 1)

    @pytest.mark.parametrize("transition", SPRING, ids=_ids)
    def test_asking_at_the_jump_moves_to_the_next_day(self, transition: Transition) -> None:
        schedule = cron(f"30 {transition.hour} * * *", transition.zone)
        assert schedule.next_after(transition.at) == utc(transition.fixed[2])

    @pytest.mark.parametrize("transition", SPRING, ids=_ids)
    def test_two_entries_in_the_gap_fire_once(self, transition: Transition) -> None:
        schedule = cron(f"0,30 {transition.hour} * * *", transition.zone)
        fires = _fires_on_day(schedule, transition)
        assert fires == [transition.at]

    @pytest.mark.parametrize("transition", SPRING, ids=_ids)
    def test_an_entry_in_the_gap_and_one_at_the_jump_never_repeat_an_instant(
        self, transition: Transition
    ) -> None:
        # 02:00 does not exist and moves to 03:00, which the entry also names.
        schedule = cron(f"0 {transition.hour},{transition.hour + 1} * * *", transition.zone)
        fires = list(schedule.fire_times(transition.at - 2 * HOUR, limit=3))
        assert fires[0] == transition.at
        assert len(set(fires)) == 3
        assert fires[1] - fires[0] > 12 * HOUR

    def test_berlin_2025_both_entries_day_by_day(self) -> None:
        schedule = cron("0,30 2 * * *", "Europe/Berlin")
        fires = list(schedule.fire_times(utc("2025-03-29T00:00Z"), limit=5))
        assert fires == [
            utc("2025-03-29T01:00Z"),  # 02:00 CET
            utc("2025-03-29T01:30Z"),  # 02:30 CET
            utc("2025-03-30T01:00Z"),  # both at the jump, 03:00 CEST
            utc("2025-03-31T00:00Z"),  # 02:00 CEST
            utc("2025-03-31T00:30Z"),  # 02:30 CEST
        ]


class TestFixedTimeInTheFold:
    @pytest.mark.parametrize("transition", FALL, ids=_ids)
    def test_it_runs_once_at_the_first_occurrence(self, transition: Transition) -> None:
        schedule = cron(f"30 {transition.hour} * * *", transition.zone)
        previous, on_day, following = (utc(t) for t in transition.fixed)
        fires = list(schedule.fire_times(previous - timedelta(minutes=1), limit=3))
        assert fires == [previous, on_day, following]
        # The first occurrence is before the change, with the summer offset.
        assert on_day < transition.at
        assert on_day == transition.at - timedelta(minutes=30)

    @pytest.mark.parametrize("transition", FALL, ids=_ids)
    def test_asked_between_the_two_occurrences_it_does_not_run_again(
        self, transition: Transition
    ) -> None:
        schedule = cron(f"30 {transition.hour} * * *", transition.zone)
        first = utc(transition.fixed[1])
        second = first + HOUR  # the same wall time with the winter offset
        following = utc(transition.fixed[2])
        for after in (
            first,
            first + timedelta(minutes=1),
            transition.at,  # second pass of the repeated hour begins
            second - timedelta(minutes=1),
            second,
        ):
            assert schedule.next_after(after) == following, after

    @pytest.mark.parametrize("transition", FALL, ids=_ids)
    def test_two_entries_in_the_fold_fire_once_each(self, transition: Transition) -> None:
        schedule = cron(f"0,30 {transition.hour} * * *", transition.zone)
        fires = _fires_on_day(schedule, transition)
        assert fires == [transition.at - HOUR, transition.at - timedelta(minutes=30)]


class TestSixFields:
    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_a_fixed_six_field_line_follows_the_fixed_time_rule(
        self, transition: Transition
    ) -> None:
        schedule = cron(f"0 30 {transition.hour} * * *", transition.zone)
        previous = utc(transition.fixed[0])
        fires = list(schedule.fire_times(previous - timedelta(minutes=1), limit=3))
        assert fires == [utc(t) for t in transition.fixed]

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_six_fields_with_seconds_equal_five_fields(self, transition: Transition) -> None:
        five = cron(f"0,30 {transition.hour} * * *", transition.zone)
        six = cron(f"0 0,30 {transition.hour} * * *", transition.zone)
        start = _local_midnight(transition) - 24 * HOUR
        assert list(six.fire_times(start, limit=8)) == list(five.fire_times(start, limit=8))


class TestRealInstants:
    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_hourly_fires_23_or_25_times_on_the_day(self, transition: Transition) -> None:
        fires = _fires_on_day(cron("0 * * * *", transition.zone), transition)
        assert len(fires) == (23 if transition.kind == "spring" else 25)
        assert fires == _expected_real(transition, set(range(24)))
        # Real instants: exactly one hour apart, the change notwithstanding.
        assert {b - a for a, b in pairwise(fires)} == {HOUR}

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_hourly_alias_matches(self, transition: Transition) -> None:
        fires = _fires_on_day(cron("@hourly", transition.zone), transition)
        assert len(fires) == (23 if transition.kind == "spring" else 25)

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    @pytest.mark.parametrize(
        ("expression", "hours"),
        [
            ("0 */2 * * *", set(range(0, 24, 2))),
            ("0 1-23/2 * * *", set(range(1, 24, 2))),
            ("0 */3 * * *", set(range(0, 24, 3))),
        ],
    )
    def test_steps_in_the_hour_follow_real_instants(
        self, transition: Transition, expression: str, hours: set[int]
    ) -> None:
        fires = _fires_on_day(cron(expression, transition.zone), transition)
        assert fires == _expected_real(transition, hours)

    def test_berlin_2025_every_two_hours_spring(self) -> None:
        fires = _fires_on_day(cron("0 */2 * * *", "Europe/Berlin"), TRANSITIONS[0])
        # 00:00 CET, then 02:00 does not exist: 04:00 CEST ... 22:00 CEST.
        assert fires == [utc("2025-03-29T23:00Z")] + [
            utc(f"2025-03-30T{h:02d}:00Z") for h in range(2, 21, 2)
        ]
        assert len(fires) == 11

    def test_berlin_2025_every_two_hours_fall(self) -> None:
        fires = _fires_on_day(cron("0 */2 * * *", "Europe/Berlin"), TRANSITIONS[1])
        # 00:00 CEST, 02:00 CEST, 02:00 CET (the clock reads 02:00 twice), 04:00 CET ... 22:00.
        assert fires == [
            utc("2025-10-25T22:00Z"),
            utc("2025-10-26T00:00Z"),
            utc("2025-10-26T01:00Z"),
        ] + [utc(f"2025-10-26T{h:02d}:00Z") for h in range(3, 22, 2)]
        assert len(fires) == 13

    def test_new_york_2025_odd_hours_spring(self) -> None:
        fires = _fires_on_day(cron("0 1-23/2 * * *", "America/New_York"), TRANSITIONS[4])
        # 01:00 EST = 06:00Z, then 03:00 EDT = 07:00Z (the jump), 05:00 EDT = 09:00Z, ...
        assert fires[:3] == [
            utc("2025-03-09T06:00Z"),
            utc("2025-03-09T07:00Z"),
            utc("2025-03-09T09:00Z"),
        ]
        assert len(fires) == 12

    def test_new_york_2025_odd_hours_fall(self) -> None:
        fires = _fires_on_day(cron("0 1-23/2 * * *", "America/New_York"), TRANSITIONS[5])
        # 01:00 EDT = 05:00Z and 01:00 EST = 06:00Z, then 03:00 EST = 08:00Z.
        assert fires[:3] == [
            utc("2025-11-02T05:00Z"),
            utc("2025-11-02T06:00Z"),
            utc("2025-11-02T08:00Z"),
        ]
        assert len(fires) == 13

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_a_minute_step_in_a_fixed_hour_follows_real_instants(
        self, transition: Transition
    ) -> None:
        # Documented: a step in the minute field reads real instants too, so the skipped hour
        # has no fire and the repeated hour has both passes.
        fires = _fires_on_day(cron(f"*/30 {transition.hour} * * *", transition.zone), transition)
        if transition.kind == "spring":
            assert fires == []
        else:
            first = transition.at - HOUR
            assert fires == [first + k * timedelta(minutes=30) for k in range(4)]


class TestIntervals:
    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_an_hourly_interval_is_3600_seconds_across_the_change(
        self, transition: Transition
    ) -> None:
        schedule = compile_schedule(
            ScheduleSpec(kind=ScheduleKind.INTERVAL, expression="1h", tz=transition.zone)
        )
        start = transition.at - 12 * HOUR
        fires = list(schedule.fire_times(start - timedelta(seconds=1), limit=30))
        assert fires[0] == start  # epoch-anchored, and every transition here is on the hour
        assert {(b - a).total_seconds() for a, b in pairwise(fires)} == {3600.0}
        assert sum(1 for f in fires if start <= f < start + 24 * HOUR) == 24
        assert transition.at in fires

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_a_daily_interval_drifts_on_the_wall_clock(self, transition: Transition) -> None:
        anchor = transition.at - 3 * 24 * HOUR
        schedule = compile_schedule(
            ScheduleSpec(
                kind=ScheduleKind.INTERVAL, expression="1d", tz=transition.zone, anchor=anchor
            )
        )
        before, after = schedule.fire_times(transition.at - 24 * HOUR - timedelta(seconds=1), 2)
        assert after - before == 24 * HOUR
        shift = transition.local(after) - transition.local(before) - 24 * HOUR
        assert shift == timedelta(hours=transition.after - transition.before)


class TestCalendarRules:
    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_a_daily_rule_behaves_like_the_fixed_cron_entry(self, transition: Transition) -> None:
        schedule = calendar(f"FREQ=DAILY;BYHOUR={transition.hour};BYMINUTE=30", transition.zone)
        previous = utc(transition.fixed[0])
        fires = list(schedule.fire_times(previous - timedelta(minutes=1), limit=3))
        assert fires == [utc(t) for t in transition.fixed]

    @pytest.mark.parametrize("transition", FALL, ids=_ids)
    def test_asked_inside_the_fold_it_does_not_run_again(self, transition: Transition) -> None:
        schedule = calendar(f"FREQ=DAILY;BYHOUR={transition.hour};BYMINUTE=30", transition.zone)
        first = utc(transition.fixed[1])
        for after in (first, transition.at, first + HOUR - timedelta(seconds=1)):
            assert schedule.next_after(after) == utc(transition.fixed[2])

    @pytest.mark.parametrize("transition", SPRING, ids=_ids)
    def test_two_rule_times_in_the_gap_fire_once(self, transition: Transition) -> None:
        schedule = calendar(f"FREQ=DAILY;BYHOUR={transition.hour};BYMINUTE=0,30", transition.zone)
        assert _fires_on_day(schedule, transition) == [transition.at]

    @pytest.mark.parametrize("transition", TRANSITIONS, ids=_ids)
    def test_a_weekly_rule_on_the_change_day_matches_cron(self, transition: Transition) -> None:
        weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[transition.day.weekday()]
        rule = calendar(
            f"FREQ=WEEKLY;BYDAY={weekday};BYHOUR={transition.hour};BYMINUTE=30", transition.zone
        )
        cron_day = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[transition.day.weekday()]
        entry = cron(f"30 {transition.hour} * * {cron_day}", transition.zone)
        start = transition.at - 3 * 24 * HOUR
        assert rule.next_after(start) == entry.next_after(start) == utc(transition.fixed[1])
