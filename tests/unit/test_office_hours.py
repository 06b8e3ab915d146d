"""Office hours: open inside the window, the next opening across nights, weekends,
holidays and a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from kefu.domain.office_hours import is_open, next_opening
from kefu.domain.sla import BusinessHours

BERLIN = BusinessHours.of("Europe/Berlin", ["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_open_inside_the_window_only() -> None:
    # Monday 2026-11-30, Berlin is UTC+1: open 08:00-16:00 UTC.
    assert not is_open(BERLIN, utc(2026, 11, 30, 7, 59))
    assert is_open(BERLIN, utc(2026, 11, 30, 8, 0))
    assert is_open(BERLIN, utc(2026, 11, 30, 15, 59))
    assert not is_open(BERLIN, utc(2026, 11, 30, 16, 0))


def test_the_next_opening_skips_nights_weekends_and_holidays() -> None:
    assert next_opening(BERLIN, utc(2026, 11, 30, 10, 0)) == utc(2026, 11, 30, 10, 0)
    assert next_opening(BERLIN, utc(2026, 11, 30, 17, 0)) == utc(2026, 12, 1, 8, 0)
    assert next_opening(BERLIN, utc(2026, 12, 4, 16, 30)) == utc(2026, 12, 7, 8, 0)  # Fri -> Mon
    xmas = BusinessHours.of(
        "Europe/Berlin",
        start="09:00",
        end="17:00",
        holidays=[date(2026, 12, 24), date(2026, 12, 25)],
    )
    assert next_opening(xmas, utc(2026, 12, 23, 20, 0)) == utc(2026, 12, 28, 8, 0)


def test_daylight_saving_moves_the_utc_opening() -> None:
    # Berlin springs forward on 2027-03-28: Friday opens 08:00 UTC, Monday 07:00 UTC.
    assert next_opening(BERLIN, utc(2027, 3, 26, 20, 0)) == utc(2027, 3, 29, 7, 0)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_the_next_opening_is_open_and_never_in_the_past(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC)
    found = next_opening(BERLIN, moment)
    assert found is not None and found >= moment and is_open(BERLIN, found)
