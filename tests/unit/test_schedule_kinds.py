"""Each schedule kind: cron (5/6 fields, L, LW, nW, #, nL, names, aliases), descriptions,
intervals and anchors, one-time instants, calendar rules, start/end bounds, jitter, and the
errors bad input raises (InvalidInputError naming the field, with a reason that says why).

Weekdays used below (checked by hand against a calendar): 2025-01-01 is a Wednesday,
2025-02-01 and 2025-03-01 are Saturdays, 2025-06-01 is a Sunday, 2025-05-31 is a Saturday,
2025-08-31 and 2025-11-30 are Sundays, 2026-02-28 is a Saturday, 2032-02-29 is a Sunday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rota.model.errors import InvalidInputError
from rota.model.schedules import MAX_EXPRESSION_LENGTH, ScheduleKind, ScheduleSpec
from rota.schedules import CompiledSchedule, compile_schedule
from rota.schedules.cron import nearest_weekday
from rota.schedules.interval import parse_interval
from rota.schedules.once import parse_instant

CRON, INTERVAL, ONCE, CALENDAR = (
    ScheduleKind.CRON,
    ScheduleKind.INTERVAL,
    ScheduleKind.ONCE,
    ScheduleKind.CALENDAR,
)
JAN_2025 = datetime(2025, 1, 1, tzinfo=UTC)


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def schedule(
    expression: str, kind: ScheduleKind = CRON, tz: str = "UTC", **extra: object
) -> CompiledSchedule:
    return compile_schedule(ScheduleSpec(kind=kind, expression=expression, tz=tz, **extra))  # type: ignore[arg-type]


def fires(compiled: CompiledSchedule, after: datetime = JAN_2025, limit: int = 5) -> list[datetime]:
    return list(compiled.fire_times(after, limit))


def days(compiled: CompiledSchedule, after: datetime = JAN_2025, limit: int = 5) -> list[date]:
    return [f.date() for f in fires(compiled, after, limit)]


class TestCron:
    def test_five_fields(self) -> None:
        assert fires(schedule("15 10 * * *"), limit=2) == [
            at(2025, 1, 1, 10, 15),
            at(2025, 1, 2, 10, 15),
        ]

    def test_six_fields_start_with_seconds(self) -> None:
        assert fires(schedule("*/20 * * * * *"), limit=4) == [
            at(2025, 1, 1, 0, 0, 20),
            at(2025, 1, 1, 0, 0, 40),
            at(2025, 1, 1, 0, 1, 0),
            at(2025, 1, 1, 0, 1, 20),
        ]
        assert fires(schedule("30 15 10 * * *"), limit=1) == [at(2025, 1, 1, 10, 15, 30)]

    def test_fire_times_are_strictly_after(self) -> None:
        compiled = schedule("0 * * * *")
        assert compiled.next_after(at(2025, 1, 1, 1, 0)) == at(2025, 1, 1, 2, 0)
        assert compiled.next_after(at(2025, 1, 1, 0, 59, 59, 999999)) == at(2025, 1, 1, 1, 0)

    def test_last_day_of_month(self) -> None:
        assert days(schedule("0 0 L * *"), limit=3) == [
            date(2025, 1, 31),
            date(2025, 2, 28),
            date(2025, 3, 31),
        ]
        assert days(schedule("0 0 L 2 *"), at(2027, 6, 1), 2) == [
            date(2028, 2, 29),
            date(2029, 2, 28),
        ]

    def test_last_weekday_of_month(self) -> None:
        # May 31 is a Saturday -> Fri 30; Jun 30 is a Monday; Aug 31 is a Sunday -> Fri 29.
        assert days(schedule("0 0 LW * *"), at(2025, 5, 1), 4) == [
            date(2025, 5, 30),
            date(2025, 6, 30),
            date(2025, 7, 31),
            date(2025, 8, 29),
        ]

    def test_nearest_weekday(self) -> None:
        # 15th: Wed (stays), Sat 15 Mar -> Fri 14, Sun 15 Jun -> Mon 16.
        compiled = schedule("0 9 15W * *")
        assert days(compiled, limit=6) == [
            date(2025, 1, 15),
            date(2025, 2, 14),  # Sat 15 -> Fri 14
            date(2025, 3, 14),  # Sat 15 -> Fri 14
            date(2025, 4, 15),
            date(2025, 5, 15),
            date(2025, 6, 16),  # Sun 15 -> Mon 16
        ]
        assert fires(compiled, limit=1) == [at(2025, 1, 15, 9, 0)]

    def test_1w_on_a_saturday_moves_forward_to_monday_the_3rd(self) -> None:
        # Never leaves the month: Sat 1 Feb -> Mon 3 Feb (not Fri 31 Jan); Sun 1 Jun -> Mon 2.
        assert days(schedule("0 9 1W * *"), at(2025, 1, 15), 5) == [
            date(2025, 2, 3),
            date(2025, 3, 3),
            date(2025, 4, 1),
            date(2025, 5, 1),
            date(2025, 6, 2),
        ]

    def test_nw_at_the_end_of_a_31_day_month_moves_back(self) -> None:
        # Sat 31 May -> Fri 30; Sun 31 Aug -> Fri 29 (not Mon 1 Sep).
        assert days(schedule("0 9 31W * *"), at(2025, 5, 1), 1) == [date(2025, 5, 30)]
        assert days(schedule("0 9 31W * *"), at(2025, 8, 1), 1) == [date(2025, 8, 29)]

    @pytest.mark.parametrize(
        ("year", "month", "day", "expected"),
        [
            (2025, 2, 1, 3),  # Saturday the 1st -> Monday the 3rd
            (2025, 6, 1, 2),  # Sunday the 1st -> Monday
            (2025, 3, 15, 14),  # Saturday -> Friday
            (2025, 6, 15, 16),  # Sunday -> Monday
            (2025, 8, 31, 29),  # Sunday the last -> Friday
            (2025, 5, 31, 30),  # Saturday the last -> Friday
            (2025, 11, 31, 28),  # clamped to Sun 30 Nov, the last -> Friday 28
            (2026, 2, 30, 27),  # clamped to Sat 28 Feb -> Friday 27
            (2025, 1, 15, 15),  # a weekday stays
        ],
    )
    def test_nearest_weekday_helper(self, year: int, month: int, day: int, expected: int) -> None:
        assert nearest_weekday(year, month, day) == expected

    def test_nth_weekday(self) -> None:
        assert days(schedule("0 9 * * 1#1"), limit=3) == [
            date(2025, 1, 6),
            date(2025, 2, 3),
            date(2025, 3, 3),
        ]
        # Months of 2025 with a fifth Friday.
        assert days(schedule("0 9 * * 5#5"), limit=4) == [
            date(2025, 1, 31),
            date(2025, 5, 30),
            date(2025, 8, 29),
            date(2025, 10, 31),
        ]

    def test_last_weekday_of_kind(self) -> None:
        assert days(schedule("0 9 * * 5L"), limit=3) == [
            date(2025, 1, 31),
            date(2025, 2, 28),
            date(2025, 3, 28),
        ]

    def test_month_and_day_names_in_any_case(self) -> None:
        compiled = schedule("0 9 * jan-mar Mon-FRI")
        assert compiled.next_after(at(2025, 3, 28, 10, 0)) == at(2025, 3, 31, 9, 0)
        assert compiled.next_after(at(2025, 3, 31, 9, 0)) == at(2026, 1, 1, 9, 0)  # a Thursday
        same = [fires(schedule(f"0 12 * * {d}"), limit=3) for d in ("SUN", "0", "7", "sun")]
        assert all(s == same[0] for s in same)
        assert all(f.weekday() == 6 for f in same[0])

    def test_day_of_month_or_day_of_week_when_both_are_restricted(self) -> None:
        # Debian cron: both fields restricted -> either matches (13th or any Friday).
        assert days(schedule("0 0 13 * FRI"), limit=4) == [
            date(2025, 1, 3),
            date(2025, 1, 10),
            date(2025, 1, 13),
            date(2025, 1, 17),
        ]

    @pytest.mark.parametrize(
        ("alias", "line", "first"),
        [
            ("@yearly", "0 0 1 1 *", at(2026, 1, 1)),
            ("@annually", "0 0 1 1 *", at(2026, 1, 1)),
            ("@monthly", "0 0 1 * *", at(2025, 2, 1)),
            ("@weekly", "0 0 * * 0", at(2025, 1, 5)),  # the first Sunday
            ("@daily", "0 0 * * *", at(2025, 1, 2)),
            ("@midnight", "0 0 * * *", at(2025, 1, 2)),
            ("@hourly", "0 * * * *", at(2025, 1, 1, 1)),
            ("@DAILY", "0 0 * * *", at(2025, 1, 2)),
        ],
    )
    def test_aliases(self, alias: str, line: str, first: datetime) -> None:
        compiled = schedule(alias)
        assert compiled.next_after(JAN_2025) == first
        assert fires(compiled, limit=4) == fires(schedule(line), limit=4)

    def test_a_named_zone_is_used(self) -> None:
        # 09:00 Berlin is 08:00Z in winter and 07:00Z in summer.
        compiled = schedule("0 9 * * *", tz="Europe/Berlin")
        assert compiled.next_after(JAN_2025) == at(2025, 1, 1, 8, 0)
        assert compiled.next_after(at(2025, 7, 1)) == at(2025, 7, 1, 7, 0)


class TestCronEdgeCases:
    def test_31w_in_a_30_day_month_ending_on_sunday(self) -> None:
        assert fires(schedule("0 9 31W * *"), at(2025, 11, 1), 1) == [at(2025, 11, 28, 9, 0)]

    def test_30w_in_february(self) -> None:
        assert fires(schedule("0 9 30W * *"), at(2026, 2, 1), 1) == [at(2026, 2, 27, 9, 0)]

    def test_a_one_value_range_with_a_step_names_one_value(self) -> None:
        assert fires(schedule("5-5/10 * * * *"), limit=2) == [
            at(2025, 1, 1, 0, 5),
            at(2025, 1, 1, 1, 5),
        ]


class TestDescriptions:
    @pytest.mark.parametrize(
        ("expression", "text"),
        [
            # minute 0, hour 9 -> "At 09:00"; day-of-week 1-5 -> Monday through Friday.
            ("0 9 * * 1-5", "At 09:00 on Monday through Friday"),
            ("0 9 * * MON-FRI", "At 09:00 on Monday through Friday"),
            # every field but minute/hour is '*' -> "every day".
            ("30 2 * * *", "At 02:30 every day"),
            # a 6-field line with second 0 reads the same as its 5-field twin.
            ("0 30 2 * * *", "At 02:30 every day"),
            ("0 * * * *", "At the start of every hour"),
            ("@hourly", "At the start of every hour"),
            ("*/15 * * * *", "Every 15th minute of every hour"),
            ("*/10 * * * * *", "Every 10th second of every minute"),
            ("@weekly", "At 00:00 on Sunday"),
            ("@yearly", "At 00:00 on January 1"),
            ("@monthly", "At 00:00 on the first day of every month"),
            ("0 0 L * *", "At 00:00 on the last day of every month"),
            ("0 0 LW * *", "At 00:00 on the last weekday of every month"),
            ("0 9 * * 1#1", "At 09:00 on the first Monday of the month"),
            ("0 9 * * 5L", "At 09:00 on the last Friday of the month"),
            (
                "0 9 * JAN-MAR MON-FRI",
                "At 09:00 on Monday through Friday in every month from January through March",
            ),
            (
                "0 9 15W * *",
                "At 09:00 on the 15th day of every month "
                "(moved to the nearest weekday when that day is a Saturday or Sunday)",
            ),
        ],
    )
    def test_cron(self, expression: str, text: str) -> None:
        assert schedule(expression).description == text

    def test_a_zone_other_than_utc_is_named(self) -> None:
        compiled = schedule("0 9 * * 1-5", tz="Europe/Berlin")
        assert compiled.description == "At 09:00 on Monday through Friday (Europe/Berlin)"

    @pytest.mark.parametrize(
        ("expression", "text"),
        [
            ("30s", "Every 30 seconds"),
            ("5m", "Every 5 minutes"),
            ("1h30m", "Every 90 minutes"),
            ("1h", "Every hour"),
            ("2 days", "Every 2 days"),
            ("90", "Every 90 seconds"),
        ],
    )
    def test_interval(self, expression: str, text: str) -> None:
        # Intervals are absolute: the zone is not part of the text.
        assert schedule(expression, INTERVAL, tz="Europe/Berlin").description == text

    def test_interval_with_anchor(self) -> None:
        compiled = schedule("1h", INTERVAL, anchor=at(2025, 1, 1, 0, 20))
        assert compiled.description == "Every hour from 2025-01-01T00:20:00Z"

    def test_once(self) -> None:
        compiled = schedule("2026-12-24T18:00[Europe/Berlin]", ONCE)
        assert compiled.description == "Once at 2026-12-24T17:00:00Z"

    @pytest.mark.parametrize(
        ("expression", "text"),
        [
            (
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=0",
                "Every month on the last weekday at 17:00 (Europe/Berlin)",
            ),
            ("FREQ=MONTHLY;BYDAY=2TU", "Every month on the 2nd Tuesday at 00:00 (Europe/Berlin)"),
            (
                "DTSTART:20250106T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
                "Every 2 weeks on Monday and Wednesday at 09:00 (Europe/Berlin)",
            ),
            (
                "DTSTART:20250101T090000\nRRULE:FREQ=DAILY;COUNT=3",
                "Every day at 09:00, 3 times (Europe/Berlin)",
            ),
        ],
    )
    def test_calendar(self, expression: str, text: str) -> None:
        assert schedule(expression, CALENDAR, tz="Europe/Berlin").description == text


class TestIntervals:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("30s", 30),
            ("5m", 300),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("1.5h", 5400),
            ("2 days", 172_800),
            ("1d", 86_400),
            ("45 minutes", 2700),
            ("90", 90),
            (" 10S ", 10),
        ],
    )
    def test_parsing(self, text: str, seconds: float) -> None:
        assert parse_interval(text) == seconds

    def test_fires_on_the_epoch_grid_by_default(self) -> None:
        assert fires(schedule("30s", INTERVAL), at(2025, 1, 1, 0, 0, 10), 3) == [
            at(2025, 1, 1, 0, 0, 30),
            at(2025, 1, 1, 0, 1, 0),
            at(2025, 1, 1, 0, 1, 30),
        ]
        # 7 minutes does not divide a day: the grid is anchored at 1970-01-01T00:00Z.
        first = schedule("7m", INTERVAL).next_after(JAN_2025)
        assert first is not None
        assert (first - datetime(1970, 1, 1, tzinfo=UTC)) % timedelta(minutes=7) == timedelta(0)
        assert JAN_2025 < first <= JAN_2025 + timedelta(minutes=7)

    def test_anchor(self) -> None:
        compiled = schedule("1h", INTERVAL, anchor=at(2025, 1, 1, 0, 20))
        assert fires(compiled, at(2025, 6, 1, 10, 0), 2) == [
            at(2025, 6, 1, 10, 20),
            at(2025, 6, 1, 11, 20),
        ]
        # Nothing before the anchor: it is the first fire.
        assert compiled.next_after(at(2024, 12, 1)) == at(2025, 1, 1, 0, 20)

    def test_an_anchor_with_an_offset_is_the_same_instant(self) -> None:
        anchor = datetime.fromisoformat("2025-01-01T01:20:00+01:00")
        compiled = schedule("1h", INTERVAL, anchor=anchor)
        assert compiled.next_after(at(2025, 6, 1, 10, 0)) == at(2025, 6, 1, 10, 20)


class TestOnce:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-12-24T18:00:00+01:00", at(2026, 12, 24, 17, 0)),
            ("2026-12-24T17:00:00Z", at(2026, 12, 24, 17, 0)),
            ("2026-12-24T17:00Z", at(2026, 12, 24, 17, 0)),
            ("2026-12-24T18:00[Europe/Berlin]", at(2026, 12, 24, 17, 0)),
            ("2026-07-24T18:00[Europe/Berlin]", at(2026, 7, 24, 16, 0)),
            ("2026-12-24T18:00[America/New_York]", at(2026, 12, 24, 23, 0)),
            # The DST rule: a gap time runs at the jump, a fold time at the first occurrence.
            ("2026-03-29T02:30[Europe/Berlin]", at(2026, 3, 29, 1, 0)),
            ("2026-10-25T02:30[Europe/Berlin]", at(2026, 10, 25, 0, 30)),
        ],
    )
    def test_parsing(self, text: str, expected: datetime) -> None:
        assert parse_instant(text) == expected
        assert parse_instant(text).utcoffset() == timedelta(0)

    def test_fires_exactly_once(self) -> None:
        compiled = schedule("2026-12-24T18:00:00+01:00", ONCE)
        assert fires(compiled, limit=5) == [at(2026, 12, 24, 17, 0)]
        assert compiled.next_after(at(2026, 12, 24, 17, 0)) is None
        assert compiled.next_after(at(2027, 1, 1)) is None


class TestCalendarRules:
    def test_last_business_day_of_the_month(self) -> None:
        compiled = schedule(
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;BYHOUR=17;BYMINUTE=0",
            CALENDAR,
            tz="Europe/Berlin",
        )
        assert fires(compiled, limit=8) == [
            at(2025, 1, 31, 16, 0),  # Fri, CET
            at(2025, 2, 28, 16, 0),  # Fri
            at(2025, 3, 31, 15, 0),  # Mon, CEST from 30 March
            at(2025, 4, 30, 15, 0),  # Wed
            at(2025, 5, 30, 15, 0),  # Sat 31 -> Fri 30
            at(2025, 6, 30, 15, 0),  # Mon
            at(2025, 7, 31, 15, 0),  # Thu
            at(2025, 8, 29, 15, 0),  # Sun 31, Sat 30 -> Fri 29
        ]

    def test_second_tuesday(self) -> None:
        assert days(schedule("FREQ=MONTHLY;BYDAY=2TU;BYHOUR=10", CALENDAR), limit=4) == [
            date(2025, 1, 14),
            date(2025, 2, 11),
            date(2025, 3, 11),
            date(2025, 4, 8),
        ]
        assert schedule("FREQ=MONTHLY;BYDAY=2TU;BYHOUR=10", CALENDAR).next_after(JAN_2025) == at(
            2025, 1, 14, 10, 0
        )

    def test_every_other_monday_and_wednesday_counts_from_dtstart(self) -> None:
        compiled = schedule(
            "DTSTART:20250106T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
            CALENDAR,
            tz="Europe/Berlin",
        )
        assert fires(compiled, limit=6) == [
            at(2025, 1, 6, 8, 0),
            at(2025, 1, 8, 8, 0),
            at(2025, 1, 20, 8, 0),
            at(2025, 1, 22, 8, 0),
            at(2025, 2, 3, 8, 0),
            at(2025, 2, 5, 8, 0),
        ]
        # Asked much later, the two-week rhythm still counts from DTSTART (2025-01-06).
        later = fires(compiled, at(2025, 6, 1), 2)
        # 2025-06-02 is 21 weeks after DTSTART (an off week); 2025-06-09 is 22 weeks after.
        assert [d.date() for d in later] == [date(2025, 6, 9), date(2025, 6, 11)]
        assert all((d.date() - date(2025, 1, 6)).days % 14 in (0, 2) for d in later)

    def test_count_with_dtstart_ends(self) -> None:
        compiled = schedule("DTSTART:20250101T090000\nRRULE:FREQ=DAILY;COUNT=3", CALENDAR)
        assert fires(compiled, at(2024, 1, 1), 10) == [
            at(2025, 1, 1, 9, 0),
            at(2025, 1, 2, 9, 0),
            at(2025, 1, 3, 9, 0),
        ]

    def test_day_30_in_february_or_april_fires_in_april(self) -> None:
        assert days(schedule("0 0 30 2,4 *"), limit=2) == [date(2025, 4, 30), date(2026, 4, 30)]

    def test_rrule_prefix_and_interval_1_are_accepted(self) -> None:
        compiled = schedule("RRULE:FREQ=DAILY;INTERVAL=1;BYHOUR=6", CALENDAR)
        assert fires(compiled, limit=2) == [at(2025, 1, 1, 6, 0), at(2025, 1, 2, 6, 0)]

    def test_results_do_not_depend_on_where_the_query_starts(self) -> None:
        # Without DTSTART the expansion restarts each year; the sequence must be seamless.
        compiled = schedule("FREQ=WEEKLY;BYDAY=FR;BYHOUR=12", CALENDAR)
        across = fires(compiled, at(2025, 12, 20), 4)
        assert [d.date() for d in across] == [
            date(2025, 12, 26),
            date(2026, 1, 2),
            date(2026, 1, 9),
            date(2026, 1, 16),
        ]


class TestBounds:
    def test_start_and_end_are_inclusive(self) -> None:
        compiled = schedule("0 0 * * *", start=at(2025, 6, 1), end=at(2025, 6, 3))
        assert fires(compiled, limit=10) == [at(2025, 6, 1), at(2025, 6, 2), at(2025, 6, 3)]
        assert compiled.next_after(at(2025, 6, 3)) is None

    def test_start_inside_a_day(self) -> None:
        compiled = schedule("0 0 * * *", start=at(2025, 6, 1, 12, 0))
        assert compiled.next_after(JAN_2025) == at(2025, 6, 2)
        assert compiled.next_after(at(2025, 7, 1)) == at(2025, 7, 2)

    def test_bounds_apply_to_intervals_and_calendars(self) -> None:
        interval = schedule("1d", INTERVAL, start=at(2025, 3, 1), end=at(2025, 3, 2, 12, 0))
        assert fires(interval, limit=10) == [at(2025, 3, 1), at(2025, 3, 2)]
        rule = schedule("FREQ=DAILY;BYHOUR=9", CALENDAR, end=at(2025, 1, 2, 8, 59))
        assert fires(rule, limit=10) == [at(2025, 1, 1, 9, 0)]

    def test_end_before_the_first_fire_means_none(self) -> None:
        assert fires(schedule("0 0 1 1 *", end=at(2025, 6, 1))) == []

    def test_end_must_be_after_start(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            ScheduleSpec(kind=CRON, expression="@daily", start=at(2025, 1, 2), end=at(2025, 1, 2))
        assert caught.value.field == "end"

    def test_bounds_must_be_aware(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            ScheduleSpec(kind=CRON, expression="@daily", start=datetime(2025, 1, 1))
        assert caught.value.field == "start"
        assert "naive" in caught.value.reason


class TestJitter:
    def test_same_job_same_delay_within_the_bound(self) -> None:
        compiled = schedule("@hourly", jitter=30.0)
        first = compiled.jitter("nightly-report")
        assert first == compiled.jitter("nightly-report")
        assert first == schedule("@daily", jitter=30.0).jitter("nightly-report")
        assert timedelta(0) <= first < timedelta(seconds=30)

    def test_different_jobs_are_spread(self) -> None:
        compiled = schedule("@hourly", jitter=60.0)
        delays = [compiled.jitter(f"job-{i}") for i in range(200)]
        assert all(timedelta(0) <= d < timedelta(seconds=60) for d in delays)
        assert len(set(delays)) >= 195
        assert sum(d < timedelta(seconds=30) for d in delays) in range(60, 141)

    def test_no_jitter_means_no_delay(self) -> None:
        assert schedule("@hourly").jitter("job") == timedelta(0)

    def test_negative_jitter_is_refused(self) -> None:
        with pytest.raises(InvalidInputError) as caught:
            ScheduleSpec(kind=CRON, expression="@daily", jitter=-1.0)
        assert caught.value.field == "jitter"


def _error(
    expression: str,
    kind: ScheduleKind = CRON,
    tz: str = "UTC",
    now: datetime | None = None,
    field: str = "",
) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        compile_schedule(
            ScheduleSpec(kind=kind, expression=expression, tz=tz), now=now, field=field
        )
    return caught.value


class TestBadInput:
    @pytest.mark.parametrize(
        ("expression", "words"),
        [
            ("61 * * * *", ["field 1 (minute)", "column 1", "61 is out of range 0-59"]),
            ("0 25 * * *", ["field 2 (hour)", "column 3", "25 is out of range 0-23"]),
            ("0 0 * 13 *", ["field 4 (month)", "column 7", "out of range"]),
            ("0  0 * * 8", ["field 5 (day-of-week)", "column 10", "out of range"]),
            ("61 0 * * * *", ["field 1 (second)", "column 1", "out of range"]),
            ("* * * *", ["4 fields"]),
            ("0 0 * * * * * *", ["8 fields"]),
            ("*/0 * * * *", ["field 1 (minute)", "step must be at least 1"]),
            ("5-1 * * * *", ["range must go from low to high"]),
            ("0 0 31 2 *", ["never fires", "day-of-month"]),
            ("0 0 31 2,4,6 *", ["never fires"]),
            ("@reboot", ["unknown alias"]),
            ("0 9 15W * 1", ["'W'", "day-of-week"]),
            ("0 9 15W,20 * *", ["'W'"]),
            ("x * * * *", ["field 1 (minute)", "not valid"]),
        ],
    )
    def test_cron(self, expression: str, words: list[str]) -> None:
        error = _error(expression)
        assert error.field == "cron"
        for word in words:
            assert word in error.reason, (word, error.reason)

    def test_the_field_is_prefixed(self) -> None:
        error = _error("61 * * * *", field="jobs.backup.schedules[0]")
        assert error.field == "jobs.backup.schedules[0].cron"
        error = _error("0.5s", INTERVAL, field="jobs.backup.schedules[0]")
        assert error.field == "jobs.backup.schedules[0].every"
        error = _error("@daily", tz="Mars/Base", field="jobs.backup.schedules[0]")
        assert error.field == "jobs.backup.schedules[0].tz"

    def test_a_line_that_never_fires_within_five_years(self) -> None:
        # Day-of-week starts with '*', so both day fields must match: Feb 29 on a Sunday,
        # next on 2032-02-29 (more than 5 * 366 days after 2026-01-01).
        error = _error("0 0 29 2 */7", now=at(2026, 1, 1))
        assert error.field == "cron"
        assert "never fires in the next 5 years" in error.reason
        # Without now there is no horizon check; with a nearer now it is accepted.
        assert schedule("0 0 29 2 */7").next_after(at(2026, 1, 1)) == at(2032, 2, 29)
        near = compile_schedule(
            ScheduleSpec(kind=CRON, expression="0 0 29 2 */7"), now=at(2028, 1, 1)
        )
        assert near.next_after(at(2028, 1, 1)) == at(2032, 2, 29)

    def test_a_rule_that_never_fires_within_five_years(self) -> None:
        rule = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=SU"
        error = _error(rule, CALENDAR, now=at(2026, 1, 1))
        assert error.field == "calendar"
        assert "never fires in the next 5 years" in error.reason
        near = compile_schedule(ScheduleSpec(kind=CALENDAR, expression=rule), now=at(2028, 1, 1))
        assert near.next_after(at(2028, 1, 1)) == at(2032, 2, 29)

    def test_the_horizon_counts_from_start_when_later(self) -> None:
        spec = ScheduleSpec(kind=CRON, expression="0 0 29 2 */7", start=at(2028, 1, 1))
        assert compile_schedule(spec, now=at(2026, 1, 1)).next_after(at(2026, 1, 1)) == at(
            2032, 2, 29
        )

    @pytest.mark.parametrize(
        ("tz", "words"),
        [
            ("Mars/Base", ["unknown time zone", "Mars/Base"]),
            ("Europe", ["unknown time zone"]),
            ("../../etc/passwd", ["not an IANA time zone name"]),
            ("/etc/passwd", ["not an IANA time zone name"]),
            ("Europe/../../etc/passwd", ["not an IANA time zone name"]),
            ("Europe/Berlin\x00", ["not an IANA time zone name"]),
            ("A" * 65, ["not an IANA time zone name"]),
        ],
    )
    @pytest.mark.parametrize("kind", [CRON, CALENDAR])
    def test_zones(self, tz: str, words: list[str], kind: ScheduleKind) -> None:
        expression = "@daily" if kind is CRON else "FREQ=DAILY"
        error = _error(expression, kind, tz=tz)
        assert error.field == "tz"
        for word in words:
            assert word in error.reason

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("2026-12-24T18:00", ["no UTC offset", "2026-12-24T18:00[Europe/Berlin]"]),
            ("tomorrow", ["not an ISO 8601"]),
            ("2026-12-24T18:00+01:00[Europe/Berlin]", ["not both"]),
            ("2026-12-24T18:00[Mars/Base]", ["unknown time zone"]),
            ("2026-12-24T18:00[../../etc/passwd]", ["not an IANA time zone name"]),
        ],
    )
    def test_once(self, text: str, words: list[str]) -> None:
        error = _error(text, ONCE)
        assert error.field == "once"
        for word in words:
            assert word in error.reason

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("0.5s", ["at least one second"]),
            ("0", ["at least one second"]),
            ("5x", ["unknown unit 'x'"]),
            ("-5s", ["not an interval"]),
            ("5m garbage", ["not an interval"]),
            ("m5", ["not an interval"]),
        ],
    )
    def test_interval(self, text: str, words: list[str]) -> None:
        error = _error(text, INTERVAL)
        assert error.field == "every"
        for word in words:
            assert word in error.reason

    @pytest.mark.parametrize(
        ("rule", "words"),
        [
            ("FREQ=HOURLY", ["FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY", "'HOURLY'"]),
            ("FREQ=MINUTELY", ["FREQ must be"]),
            ("BYHOUR=9", ["FREQ must be"]),
            ("FREQ=DAILY;INTERVAL=2", ["INTERVAL", "DTSTART"]),
            ("FREQ=DAILY;COUNT=3", ["COUNT", "DTSTART"]),
            ("FREQ=WEEKLY", ["BYDAY"]),
            ("FREQ=DAILY;BYHOUR=25", ["hour"]),
            ("FREQ=DAILY;FOO=1", ["FOO"]),
            ("RRULE:FREQ=DAILY\nRDATE:20250101T000000", ["one RRULE"]),
            ("DTSTART:20250101T090000Z\nRRULE:FREQ=DAILY", ["without Z or TZID"]),
        ],
    )
    def test_calendar(self, rule: str, words: list[str]) -> None:
        error = _error(rule, CALENDAR)
        assert error.field == "calendar"
        for word in words:
            assert word in error.reason

    def test_an_expression_over_the_limit_is_refused_by_the_spec(self) -> None:
        minutes = ",".join(["0"] * 123) + ",10"
        longest = f"{minutes} * * * *"
        assert len(longest) == MAX_EXPRESSION_LENGTH
        assert schedule(longest).next_after(JAN_2025) == at(2025, 1, 1, 0, 10)
        # One more character: refused before any parsing (trailing spaces are valid cron).
        with pytest.raises(InvalidInputError) as caught:
            ScheduleSpec(kind=CRON, expression=longest + " ")
        assert caught.value.field == "cron"
        assert "257 characters" in caught.value.reason
        assert "256" in caught.value.reason
        for kind in (INTERVAL, ONCE, CALENDAR):
            with pytest.raises(InvalidInputError) as caught:
                ScheduleSpec(kind=kind, expression="x" * 1000)
            assert caught.value.field == ("every" if kind is INTERVAL else kind.value)

    @pytest.mark.parametrize("kind", list(ScheduleKind))
    def test_an_empty_expression_is_refused(self, kind: ScheduleKind) -> None:
        with pytest.raises(InvalidInputError) as caught:
            ScheduleSpec(kind=kind, expression="  ")
        assert caught.value.field == ("every" if kind is ScheduleKind.INTERVAL else kind.value)
        assert "empty" in caught.value.reason
