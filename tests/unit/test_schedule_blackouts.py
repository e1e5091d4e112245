"""Business calendars: holidays, inclusive ranges, excluded days, daily and absolute windows,
read in the calendar's zone; check_calendar names the bad field.

Weekdays used (by hand): 2025-06-01 is a Sunday, 2025-06-06 a Friday, 2025-06-07 a Saturday,
2025-12-27 a Saturday, 2026-01-03 a Saturday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rota.model.errors import InvalidInputError
from rota.model.schedules import BusinessCalendar, TimeWindow
from rota.schedules.blackouts import Blackouts, blackout_reason, check_calendar

WEEKENDS = "FREQ=WEEKLY;BYDAY=SA,SU"


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def window(from_time: str, to_time: str, rrule: str | None = None) -> TimeWindow:
    return TimeWindow(from_time=from_time, to_time=to_time, rrule=rrule)


class TestHolidays:
    def test_a_holiday_blacks_out_the_whole_local_day(self) -> None:
        calendar = BusinessCalendar(id="de", dates=(date(2025, 12, 25),))
        assert blackout_reason(calendar, at(2025, 12, 25, 0, 0)) == "de: holiday 2025-12-25"
        assert blackout_reason(calendar, at(2025, 12, 25, 23, 59, 59)) == "de: holiday 2025-12-25"
        assert blackout_reason(calendar, at(2025, 12, 24, 23, 59, 59)) is None
        assert blackout_reason(calendar, at(2025, 12, 26, 0, 0)) is None

    def test_the_calendar_zone_decides_the_date(self) -> None:
        berlin = BusinessCalendar(id="de", tz="Europe/Berlin", dates=(date(2025, 12, 25),))
        utc = BusinessCalendar(id="de", tz="UTC", dates=(date(2025, 12, 25),))
        # 23:30Z on the 24th is 00:30 CET on the 25th; 23:30Z on the 25th is the 26th in Berlin.
        assert blackout_reason(berlin, at(2025, 12, 24, 23, 30)) == "de: holiday 2025-12-25"
        assert blackout_reason(utc, at(2025, 12, 24, 23, 30)) is None
        assert blackout_reason(berlin, at(2025, 12, 25, 23, 30)) is None
        assert blackout_reason(utc, at(2025, 12, 25, 23, 30)) == "de: holiday 2025-12-25"

    def test_a_zone_west_of_utc(self) -> None:
        calendar = BusinessCalendar(id="us", tz="America/New_York", dates=(date(2025, 7, 4),))
        # 2025-07-05T03:00Z is 23:00 EDT on the 4th.
        assert blackout_reason(calendar, at(2025, 7, 5, 3, 0)) == "us: holiday 2025-07-04"
        assert blackout_reason(calendar, at(2025, 7, 4, 3, 0)) is None


class TestRanges:
    def test_ranges_are_inclusive_local_dates(self) -> None:
        calendar = BusinessCalendar(
            id="freeze", tz="Europe/Berlin", ranges=((date(2025, 8, 1), date(2025, 8, 15)),)
        )
        reason = "freeze: 2025-08-01 to 2025-08-15"
        # CEST is +2: local midnight of Aug 1 is 22:00Z on Jul 31.
        assert blackout_reason(calendar, at(2025, 7, 31, 22, 0)) == reason
        assert blackout_reason(calendar, at(2025, 7, 31, 21, 59, 59)) is None
        assert blackout_reason(calendar, at(2025, 8, 15, 21, 59, 59)) == reason
        assert blackout_reason(calendar, at(2025, 8, 15, 22, 0)) is None

    def test_a_one_day_range(self) -> None:
        calendar = BusinessCalendar(id="x", ranges=((date(2025, 3, 3), date(2025, 3, 3)),))
        assert blackout_reason(calendar, at(2025, 3, 3, 12)) == "x: 2025-03-03 to 2025-03-03"
        assert blackout_reason(calendar, at(2025, 3, 4, 0)) is None


class TestExcludedDays:
    def test_weekends(self) -> None:
        calendar = BusinessCalendar(id="biz", rrule=WEEKENDS)
        assert blackout_reason(calendar, at(2025, 6, 7, 9)) == "biz: excluded day 2025-06-07"
        assert blackout_reason(calendar, at(2025, 6, 8, 23, 59)) == "biz: excluded day 2025-06-08"
        assert blackout_reason(calendar, at(2025, 6, 6, 23, 59)) is None
        assert blackout_reason(calendar, at(2025, 6, 9, 0, 0)) is None

    def test_across_a_year_boundary(self) -> None:
        calendar = BusinessCalendar(id="biz", rrule=WEEKENDS)
        assert blackout_reason(calendar, at(2025, 12, 27, 12)) is not None
        assert blackout_reason(calendar, at(2026, 1, 3, 12)) is not None
        assert blackout_reason(calendar, at(2026, 1, 2, 12)) is None

    def test_every_day_of_a_week(self) -> None:
        calendar = BusinessCalendar(id="biz", rrule=WEEKENDS)
        monday = at(2025, 6, 2, 10)
        blocked = [
            blackout_reason(calendar, monday + timedelta(days=i)) is not None for i in range(7)
        ]
        assert blocked == [False, False, False, False, False, True, True]

    def test_excluded_days_are_local(self) -> None:
        calendar = BusinessCalendar(id="biz", tz="Australia/Sydney", rrule=WEEKENDS)
        # Friday 2025-06-06T15:00Z is Saturday 01:00 AEST.
        assert blackout_reason(calendar, at(2025, 6, 6, 15, 0)) == "biz: excluded day 2025-06-07"
        assert blackout_reason(calendar, at(2025, 6, 6, 13, 59)) is None

    def test_monthly_rule(self) -> None:
        calendar = BusinessCalendar(id="close", rrule="FREQ=MONTHLY;BYMONTHDAY=-1")
        assert blackout_reason(calendar, at(2025, 2, 28, 12)) == "close: excluded day 2025-02-28"
        assert blackout_reason(calendar, at(2025, 2, 27, 12)) is None


class TestDailyWindows:
    def test_a_window_is_half_open(self) -> None:
        calendar = BusinessCalendar(id="ops", windows=(window("02:00", "04:00"),))
        assert blackout_reason(calendar, at(2025, 6, 3, 2, 0)) == "ops: maintenance window"
        assert blackout_reason(calendar, at(2025, 6, 3, 3, 59, 59)) is not None
        assert blackout_reason(calendar, at(2025, 6, 3, 4, 0)) is None
        assert blackout_reason(calendar, at(2025, 6, 3, 1, 59, 59)) is None

    def test_over_midnight(self) -> None:
        calendar = BusinessCalendar(id="ops", windows=(window("22:00", "02:00"),))
        for inside in (at(2025, 6, 3, 22, 0), at(2025, 6, 3, 23, 59), at(2025, 6, 4, 0, 0)):
            assert blackout_reason(calendar, inside) == "ops: maintenance window", inside
        assert blackout_reason(calendar, at(2025, 6, 4, 1, 59, 59)) is not None
        assert blackout_reason(calendar, at(2025, 6, 4, 2, 0)) is None
        assert blackout_reason(calendar, at(2025, 6, 3, 21, 59, 59)) is None
        assert blackout_reason(calendar, at(2025, 6, 3, 12, 0)) is None

    def test_over_midnight_belongs_to_the_day_it_starts_on(self) -> None:
        calendar = BusinessCalendar(
            id="ops", windows=(window("22:00", "02:00", "FREQ=WEEKLY;BYDAY=FR"),)
        )
        assert blackout_reason(calendar, at(2025, 6, 6, 23, 0)) is not None  # Fri 23:00
        assert blackout_reason(calendar, at(2025, 6, 7, 1, 0)) is not None  # Sat 01:00: Friday's
        assert blackout_reason(calendar, at(2025, 6, 6, 1, 0)) is None  # Fri 01:00: Thursday's
        assert blackout_reason(calendar, at(2025, 6, 7, 23, 0)) is None  # Sat 23:00

    def test_a_window_restricted_by_a_rule(self) -> None:
        first_sunday = window("02:00", "04:00", "FREQ=MONTHLY;BYDAY=1SU")
        calendar = BusinessCalendar(id="ops", windows=(first_sunday,))
        assert blackout_reason(calendar, at(2025, 6, 1, 3, 0)) is not None  # first Sunday
        assert blackout_reason(calendar, at(2025, 6, 8, 3, 0)) is None  # second Sunday
        assert blackout_reason(calendar, at(2025, 6, 2, 3, 0)) is None  # Monday

    def test_windows_are_local_times(self) -> None:
        calendar = BusinessCalendar(
            id="ops", tz="Europe/Berlin", windows=(window("02:00", "04:00"),)
        )
        assert blackout_reason(calendar, at(2025, 6, 3, 0, 30)) is not None  # 02:30 CEST
        assert blackout_reason(calendar, at(2025, 6, 3, 2, 30)) is None  # 04:30 CEST
        assert blackout_reason(calendar, at(2025, 1, 3, 1, 30)) is not None  # 02:30 CET
        assert blackout_reason(calendar, at(2025, 1, 3, 3, 0)) is None  # 04:00 CET

    def test_the_repeated_hour_is_inside_both_times(self) -> None:
        calendar = BusinessCalendar(
            id="ops", tz="Europe/Berlin", windows=(window("02:00", "03:00"),)
        )
        # 2025-10-26: 02:30 CEST = 00:30Z and 02:30 CET = 01:30Z.
        assert blackout_reason(calendar, at(2025, 10, 26, 0, 30)) is not None
        assert blackout_reason(calendar, at(2025, 10, 26, 1, 30)) is not None
        assert blackout_reason(calendar, at(2025, 10, 26, 2, 0)) is None  # 03:00 CET


class TestAbsoluteWindows:
    def test_start_inclusive_end_exclusive(self) -> None:
        span = TimeWindow(start=at(2025, 6, 1, 10, 0), end=at(2025, 6, 1, 12, 0))
        calendar = BusinessCalendar(id="migration", windows=(span,))
        assert blackout_reason(calendar, at(2025, 6, 1, 10, 0)) == "migration: maintenance window"
        assert blackout_reason(calendar, at(2025, 6, 1, 11, 59, 59)) is not None
        assert blackout_reason(calendar, at(2025, 6, 1, 12, 0)) is None
        assert blackout_reason(calendar, at(2025, 6, 1, 9, 59, 59)) is None

    def test_offsets_are_instants_whatever_the_calendar_zone(self) -> None:
        span = TimeWindow(
            start=datetime.fromisoformat("2025-06-01T12:00:00+02:00"),
            end=datetime.fromisoformat("2025-06-01T14:00:00+02:00"),
        )
        calendar = BusinessCalendar(id="m", tz="America/New_York", windows=(span,))
        assert blackout_reason(calendar, at(2025, 6, 1, 10, 0)) is not None
        assert blackout_reason(calendar, at(2025, 6, 1, 12, 0)) is None


class TestBlackouts:
    def test_the_first_calendar_that_matches_gives_the_reason(self) -> None:
        holidays = BusinessCalendar(id="holidays", dates=(date(2025, 6, 7),))
        weekends = BusinessCalendar(id="weekends", rrule=WEEKENDS)
        both = Blackouts([holidays, weekends])
        assert both.reason(at(2025, 6, 7, 9)) == "holidays: holiday 2025-06-07"
        assert both.reason(at(2025, 6, 8, 9)) == "weekends: excluded day 2025-06-08"
        assert both.reason(at(2025, 6, 9, 9)) is None
        assert Blackouts([]).reason(at(2025, 6, 7, 9)) is None

    def test_holiday_is_named_before_a_window(self) -> None:
        calendar = BusinessCalendar(
            id="c", dates=(date(2025, 6, 3),), windows=(window("00:00", "23:59"),)
        )
        assert blackout_reason(calendar, at(2025, 6, 3, 9)) == "c: holiday 2025-06-03"
        assert blackout_reason(calendar, at(2025, 6, 4, 9)) == "c: maintenance window"


class TestCheckCalendar:
    def test_a_good_calendar_passes(self) -> None:
        check_calendar(
            BusinessCalendar(
                id="good",
                tz="Europe/Berlin",
                dates=(date(2025, 12, 25),),
                ranges=((date(2025, 8, 1), date(2025, 8, 15)),),
                rrule=WEEKENDS,
                windows=(
                    window("22:00", "02:00", "FREQ=WEEKLY;BYDAY=FR"),
                    TimeWindow(start=at(2025, 6, 1), end=at(2025, 6, 2)),
                ),
            )
        )

    @pytest.mark.parametrize(
        ("calendar", "field", "words"),
        [
            (BusinessCalendar(id="c", tz="Mars/Base"), "tz", "unknown time zone"),
            (BusinessCalendar(id="c", tz="../../etc/passwd"), "tz", "not an IANA"),
            (
                BusinessCalendar(id="c", ranges=((date(2025, 8, 15), date(2025, 8, 1)),)),
                "ranges",
                "end is before the start",
            ),
            (BusinessCalendar(id="c", rrule="FREQ=SOMETIMES"), "exclude_days", "FREQ=SOMETIMES"),
            (BusinessCalendar(id="c", rrule="FREQ=WEEKLY;BYDAY=XX"), "exclude_days", "BYDAY"),
            (
                BusinessCalendar(id="c", rrule="RRULE:FREQ=DAILY\nRDATE:20250101T000000"),
                "exclude_days",
                "one RRULE",
            ),
            (
                BusinessCalendar(id="c", windows=(window("02:00", "04:00", "FREQ=NEVER"),)),
                "windows[0].rrule",
                "FREQ=NEVER",
            ),
            (
                BusinessCalendar(
                    id="c",
                    windows=(
                        TimeWindow(
                            start=at(2025, 1, 1),
                            end=at(2025, 1, 2),
                            from_time="01:00",
                            to_time="02:00",
                        ),
                    ),
                ),
                "windows[0]",
                "either",
            ),
            (BusinessCalendar(id="c", windows=(TimeWindow(),)), "windows[0]", "either"),
            (
                BusinessCalendar(
                    id="c",
                    windows=(
                        window("01:00", "02:00"),
                        TimeWindow(start=at(2025, 1, 2), end=at(2025, 1, 1)),
                    ),
                ),
                "windows[1]",
                "start before end",
            ),
            (
                BusinessCalendar(id="c", windows=(TimeWindow(start=at(2025, 1, 1)),)),
                "windows[0]",
                "start before end",
            ),
            (
                BusinessCalendar(
                    id="c",
                    windows=(TimeWindow(start=datetime(2025, 1, 1), end=datetime(2025, 1, 2)),),
                ),
                "windows[0].start",
                "UTC offset",
            ),
            (
                BusinessCalendar(id="c", windows=(TimeWindow(from_time="01:00"),)),
                "windows[0].to",
                "required",
            ),
            (
                BusinessCalendar(id="c", windows=(window("25:00", "02:00"),)),
                "windows[0].from",
                "not a time",
            ),
            (
                BusinessCalendar(id="c", windows=(window("01:00", "noon"),)),
                "windows[0].to",
                "not a time",
            ),
        ],
    )
    def test_errors_name_the_field(
        self, calendar: BusinessCalendar, field: str, words: str
    ) -> None:
        with pytest.raises(InvalidInputError) as caught:
            check_calendar(calendar)
        assert caught.value.field == field
        assert words in caught.value.reason, caught.value.reason

    @pytest.mark.parametrize(
        ("start", "end", "field"),
        [
            (datetime(2025, 1, 1), at(2025, 1, 2), "windows[0].start"),
            (at(2025, 1, 1), datetime(2025, 1, 2), "windows[0].end"),
        ],
    )
    def test_one_naive_bound_names_it(self, start: datetime, end: datetime, field: str) -> None:
        calendar = BusinessCalendar(id="c", windows=(TimeWindow(start=start, end=end),))
        with pytest.raises(InvalidInputError) as caught:
            check_calendar(calendar)
        assert caught.value.field == field
