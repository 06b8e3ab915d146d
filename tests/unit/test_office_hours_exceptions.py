"""Office hours with dated exceptions (issue 15): holidays close a whole local day,
special hours replace a date's weekly hours (and can open a weekday the week keeps
closed). Asia/Shanghai has no daylight saving, so there the rule is checked exactly on
the wall clock; Europe/Berlin's changes are checked on the days they happen."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.office_hours import DatedHours, is_open, next_opening
from kefu.domain.sla import BusinessHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEK = ["mon", "tue", "wed", "thu", "fri"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def berlin(
    holidays: tuple[date, ...] = (), special: dict[date, tuple[time, time]] | None = None
) -> DatedHours:
    return DatedHours.of(
        BusinessHours.of("Europe/Berlin", WEEK, "09:00", "17:00"), holidays, special
    )


# Strategies: a window of a few weeks so that generated exceptions hit generated moments.
FIRST = date(2026, 12, 1)
days = st.integers(min_value=0, max_value=40).map(lambda n: FIRST + timedelta(days=n))
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
moments = st.datetimes(min_value=datetime(2026, 11, 30), max_value=datetime(2027, 1, 12)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


@st.composite
def exceptions(draw: st.DrawFn) -> tuple[frozenset[date], dict[date, tuple[time, time]]]:
    holidays = draw(st.frozensets(days, max_size=8))
    special: dict[date, tuple[time, time]] = {}
    for day in draw(st.frozensets(days, max_size=8)):
        if day in holidays:
            continue
        a, b = sorted(draw(st.lists(minutes, min_size=2, max_size=2, unique=True)))
        special[day] = (time(a // 60, a % 60), time(b // 60, b % 60))
    return holidays, special


def test_a_holiday_closes_the_whole_day_and_the_next_opening_skips_it() -> None:
    # Thursday 2026-12-24 and Friday 2026-12-25 closed: Berlin opens on Monday 08:00 UTC.
    hours = berlin(holidays=(date(2026, 12, 24), date(2026, 12, 25)))
    assert not is_open(hours, utc(2026, 12, 24, 10, 0))
    assert next_opening(hours, utc(2026, 12, 23, 20, 0)) == utc(2026, 12, 28, 8, 0)


def test_special_hours_shorten_a_day_and_open_a_closed_weekday() -> None:
    hours = berlin(
        special={
            date(2026, 12, 24): (time(9, 0), time(12, 0)),  # Thursday: until noon
            date(2026, 12, 27): (time(10, 0), time(14, 0)),  # Sunday: open for a sale
        }
    )
    assert is_open(hours, utc(2026, 12, 24, 10, 59))
    assert not is_open(hours, utc(2026, 12, 24, 11, 0))  # 12:00 in Berlin
    assert next_opening(hours, utc(2026, 12, 24, 11, 0)) == utc(2026, 12, 25, 8, 0)
    assert next_opening(hours, utc(2026, 12, 26, 12, 0)) == utc(2026, 12, 27, 9, 0)
    assert is_open(hours, utc(2026, 12, 27, 12, 59))
    assert not is_open(hours, utc(2026, 12, 27, 13, 0))


def test_a_date_is_a_holiday_or_has_special_hours_never_both() -> None:
    with pytest.raises(ValueError, match="both a holiday"):
        berlin(holidays=(date(2026, 12, 24),), special={date(2026, 12, 24): (time(9), time(12))})
    with pytest.raises(ValueError, match="open before they close"):
        berlin(special={date(2026, 12, 24): (time(12), time(9))})


def test_special_hours_on_the_days_berlin_changes_its_clocks() -> None:
    # 2027-03-28: 02:00 CET jumps to 03:00 CEST. 01:00-05:00 on the wall is three real hours.
    spring = date(2027, 3, 28)
    hours = berlin(special={spring: (time(1), time(5))})
    assert hours.window(spring) == (utc(2027, 3, 28, 0, 0), utc(2027, 3, 28, 3, 0))
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET. 01:00-05:00 on the wall is five hours.
    autumn = date(2026, 10, 25)
    hours = berlin(special={autumn: (time(1), time(5))})
    assert hours.window(autumn) == (utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 4, 0))
    # A wall time inside the skipped hour is read as after it (as BusinessHours reads it):
    # 02:15-02:45 is 03:15-03:45 CEST; 02:30-03:00 would close before it opens: closed.
    hours = berlin(special={spring: (time(2, 15), time(2, 45))})
    assert hours.window(spring) == (utc(2027, 3, 28, 1, 15), utc(2027, 3, 28, 1, 45))
    hours = berlin(special={spring: (time(2, 30), time(3, 0))})
    assert hours.window(spring) is None
    assert next_opening(hours, utc(2027, 3, 28, 0, 0)) == utc(2027, 3, 29, 7, 0)


def test_a_holiday_on_a_clock_change_is_closed_for_all_of_its_23_hours() -> None:
    spring = date(2027, 3, 29)  # Monday after the change; and the Sunday of it
    hours = berlin(holidays=(spring,), special={date(2027, 3, 28): (time(0), time(23, 59))})
    # Sunday 2027-03-28 is 23 hours long: 00:00 CET = 23:00 UTC the day before.
    assert hours.window(date(2027, 3, 28)) == (utc(2027, 3, 27, 23, 0), utc(2027, 3, 28, 21, 59))
    assert not is_open(hours, utc(2027, 3, 29, 7, 0))  # Monday 09:00 CEST: a holiday
    assert next_opening(hours, utc(2027, 3, 28, 22, 0)) == utc(2027, 3, 30, 7, 0)


@given(exceptions(), days)
def test_days_without_exceptions_keep_the_weekly_hours_and_special_ones_replace_them(
    drawn: tuple[frozenset[date], dict[date, tuple[time, time]]], day: date
) -> None:
    holidays, special = drawn
    weekly = BusinessHours.of("Europe/Berlin", WEEK, "09:00", "17:00")
    hours = DatedHours.of(weekly, holidays, special)
    if day in holidays:
        assert hours.window(day) is None
    elif day in special:
        opens, closes = special[day]
        expected = (
            datetime.combine(day, opens, BERLIN).astimezone(UTC),
            datetime.combine(day, closes, BERLIN).astimezone(UTC),
        )
        assert hours.window(day) == expected
    else:
        assert hours.window(day) == weekly.window(day)


@given(exceptions(), moments)
def test_in_shanghai_open_means_inside_the_days_wall_clock_hours(
    drawn: tuple[frozenset[date], dict[date, tuple[time, time]]], moment: datetime
) -> None:
    holidays, special = drawn
    hours = DatedHours.of(
        BusinessHours.of("Asia/Shanghai", WEEK, "09:00", "18:00"), holidays, special
    )
    local = moment.astimezone(SHANGHAI)
    wall = local.time().replace(tzinfo=None)
    if local.date() in holidays:
        expected = False
    elif local.date() in special:
        opens, closes = special[local.date()]
        expected = opens <= wall < closes
    else:
        expected = local.weekday() < 5 and time(9) <= wall < time(18)
    assert is_open(hours, moment) is expected


@given(exceptions(), moments, st.sampled_from(["Europe/Berlin", "Asia/Shanghai"]))
def test_the_next_opening_is_open_never_past_and_nothing_opens_before_it(
    drawn: tuple[frozenset[date], dict[date, tuple[time, time]]], moment: datetime, zone: str
) -> None:
    holidays, special = drawn
    hours = DatedHours.of(BusinessHours.of(zone, WEEK, "09:00", "17:00"), holidays, special)
    found = next_opening(hours, moment)
    assert found is not None and found >= moment and is_open(hours, found)
    assert found.astimezone(ZoneInfo(zone)).date() not in holidays
    if found > moment:  # no window of any day in between opened earlier
        day = moment.astimezone(ZoneInfo(zone)).date()
        while day <= found.astimezone(ZoneInfo(zone)).date():
            window = hours.window(day)
            assert window is None or window[1] <= moment or window[0] >= found
            day += timedelta(days=1)
