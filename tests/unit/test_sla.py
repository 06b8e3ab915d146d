"""Business-time arithmetic and SLA announcements (kefu.domain.sla)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from kefu.domain.sla import (
    WEEKDAYS,
    BusinessHours,
    SlaPolicy,
    SlaRules,
    WallTime,
    add_business_minutes,
    business_minutes_between,
)
from kefu.domain.tickets import Priority, SlaAlarm, SlaState, SlaTarget, TicketStatus

UTC_HOURS = BusinessHours.of()  # Mon-Fri 09:00-18:00 UTC
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


# 2025-03-07 is a Friday.
def test_friday_afternoon_rolls_over_the_weekend() -> None:
    assert add_business_minutes(utc(2025, 3, 7, 17), 240, UTC_HOURS) == utc(2025, 3, 10, 12)


def test_ending_exactly_at_closing_time_stays_on_that_day() -> None:
    assert add_business_minutes(utc(2025, 3, 7, 17), 60, UTC_HOURS) == utc(2025, 3, 7, 18)


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (utc(2025, 3, 8, 11), utc(2025, 3, 10, 10)),  # Saturday: counts from Monday 09:00
        (utc(2025, 3, 10, 7), utc(2025, 3, 10, 10)),  # Monday before opening
        (utc(2025, 3, 10, 20), utc(2025, 3, 11, 10)),  # Monday after closing
        (utc(2025, 3, 10, 18), utc(2025, 3, 11, 10)),  # exactly at closing
    ],
)
def test_creation_outside_hours_starts_at_the_next_opening(
    created: datetime, expected: datetime
) -> None:
    assert add_business_minutes(created, 60, UTC_HOURS) == expected


def test_zero_minutes_is_the_start_itself_even_outside_hours() -> None:
    saturday = utc(2025, 3, 8, 11)
    assert add_business_minutes(saturday, 0, UTC_HOURS) == saturday
    assert UTC_HOURS.subtract(saturday, 0) == saturday


def test_holidays_are_skipped() -> None:
    hours = BusinessHours.of(holidays=[date(2025, 3, 10)])
    assert add_business_minutes(utc(2025, 3, 7, 17), 240, hours) == utc(2025, 3, 11, 12)
    assert business_minutes_between(utc(2025, 3, 10, 9), utc(2025, 3, 10, 18), hours) == 0


def test_holidays_are_local_dates() -> None:
    # 23:30 UTC on the 9th is already the 10th in Shanghai, a holiday there.
    hours = BusinessHours.of("Asia/Shanghai", holidays=[date(2025, 3, 10)])
    assert add_business_minutes(utc(2025, 3, 9, 23, 30), 60, hours) == utc(2025, 3, 11, 2)


def test_a_long_target_spans_several_weeks() -> None:
    nine_days = 9 * 9 * 60  # nine business days of nine hours
    assert add_business_minutes(utc(2025, 3, 10, 9), nine_days, UTC_HOURS) == utc(2025, 3, 20, 18)


def test_between_counts_only_open_minutes_and_is_signed() -> None:
    a, b = utc(2025, 3, 7, 17), utc(2025, 3, 10, 12)
    assert business_minutes_between(a, b, UTC_HOURS) == 240
    assert business_minutes_between(b, a, UTC_HOURS) == -240
    assert business_minutes_between(a, a, UTC_HOURS) == 0


def test_subtract_returns_the_latest_instant() -> None:
    assert UTC_HOURS.subtract(utc(2025, 3, 10, 9, 30), 30) == utc(2025, 3, 10, 9)
    assert UTC_HOURS.subtract(utc(2025, 3, 10, 9, 15), 30) == utc(2025, 3, 7, 17, 45)
    assert UTC_HOURS.subtract(utc(2025, 3, 8, 12), 30) == utc(2025, 3, 7, 17, 30)


def test_spring_forward_keeps_local_opening_hours() -> None:
    # Berlin moves to summer time on Sunday 2025-03-30: Friday 17:00 CET + 2 business
    # hours is Monday 10:00 CEST, which is 08:00 UTC (not 09:00).
    hours = BusinessHours.of("Europe/Berlin")
    due = add_business_minutes(berlin(2025, 3, 28, 17), 120, hours)
    assert due == berlin(2025, 3, 31, 10)
    assert due == utc(2025, 3, 31, 8)
    assert business_minutes_between(berlin(2025, 3, 28, 17), due, hours) == 120


def test_fall_back_keeps_local_opening_hours() -> None:
    hours = BusinessHours.of("Europe/Berlin")  # winter time from Sunday 2025-10-26
    due = add_business_minutes(berlin(2025, 10, 24, 17), 120, hours)
    assert due == utc(2025, 10, 27, 9)  # 10:00 CET


def test_a_day_open_across_the_dst_change_is_shorter_in_real_minutes() -> None:
    hours = BusinessHours.of("Europe/Berlin", days=["sun"], start="00:00", end="23:59")
    minutes = business_minutes_between(berlin(2025, 3, 30, 0), berlin(2025, 3, 30, 23, 59), hours)
    assert minutes == 24 * 60 - 1 - 60  # the hour from 02:00 to 03:00 does not exist
    autumn = business_minutes_between(berlin(2025, 10, 26, 0), berlin(2025, 10, 26, 23, 59), hours)
    assert autumn == 23 * 60 + 59 + 60  # the hour from 02:00 to 03:00 happens twice


def test_wall_time_counts_every_minute_even_across_dst() -> None:
    wall = WallTime()
    start = berlin(2025, 3, 29, 12)
    assert wall.add(start, 24 * 60) == berlin(2025, 3, 30, 13)  # 24 real hours
    assert wall.between(start, wall.add(start, 90)) == timedelta(minutes=90)
    assert wall.subtract(utc(2025, 3, 8, 12), 30) == utc(2025, 3, 8, 11, 30)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(datetime(2025, 3, 10, 9), 10, UTC_HOURS)
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(utc(2025, 3, 10, 9), -1, UTC_HOURS)
    with pytest.raises(ValueError, match="open before"):
        BusinessHours.of(start="18:00", end="09:00")
    with pytest.raises(ValueError, match="weekday"):
        BusinessHours.of(days=[])


def test_a_calendar_without_any_business_day_left_fails_instead_of_looping() -> None:
    start = date(2025, 3, 10)
    every_day = [start + timedelta(days=n) for n in range(3700)]
    hours = BusinessHours.of(holidays=every_day)
    with pytest.raises(ValueError, match="no business hours"):
        add_business_minutes(utc(2025, 3, 10, 9), 10, hours)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe"]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessHours:
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    # At least an hour a week, so 20,000 minutes stay within the ten-year search bound.
    opening = draw(st.integers(0, 22 * 60))
    closing = draw(st.integers(opening + 60, 23 * 60 + 59))
    holidays = draw(st.lists(st.dates(date(2024, 1, 1), date(2026, 12, 31)), max_size=20))
    return BusinessHours.of(
        draw(st.sampled_from(ZONES)),
        days,
        f"{opening // 60:02}:{opening % 60:02}",
        f"{closing // 60:02}:{closing % 60:02}",
        holidays,
    )


moments = st.datetimes(datetime(2024, 1, 1), datetime(2026, 6, 30), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(calendars(), moments, st.integers(0, 20_000))
def test_adding_then_counting_round_trips(hours: BusinessHours, start: datetime, m: int) -> None:
    end = hours.add(start, m)
    assert end >= start
    assert hours.between(start, end) == timedelta(minutes=m)
    assert business_minutes_between(start, end, hours) == m


@settings(max_examples=300, deadline=None)
@given(calendars(), moments, st.integers(0, 20_000))
def test_subtracting_then_counting_round_trips(hours: BusinessHours, end: datetime, m: int) -> None:
    start = hours.subtract(end, m)
    assert start <= end
    assert hours.between(start, end) == timedelta(minutes=m)


# ---- policies, due dates, announcements ------------------------------------------------

POLICY = SlaPolicy(
    "default",
    first_response_minutes={"urgent": 30, "normal": 240},
    resolution_minutes={"urgent": 240, "normal": 1440},
    warn_before_minutes=30,
)
ALWAYS = SlaPolicy("24x7", {"normal": 60}, {"normal": 120}, business_hours=False)
RULES = SlaRules(UTC_HOURS, {"default": POLICY, "24x7": ALWAYS}, "default")
CREATED = utc(2025, 3, 7, 17)  # Friday


def test_due_dates_follow_policy_priority_and_time_mode() -> None:
    normal = RULES.targets("default", Priority.NORMAL, CREATED)
    assert normal.first_response_due_at == utc(2025, 3, 10, 12)
    assert normal.resolution_due_at == utc(2025, 3, 12, 14)  # 1 + 9 + 9 + 5 hours
    wall = RULES.targets("24x7", Priority.NORMAL, CREATED)
    assert wall.first_response_due_at == utc(2025, 3, 7, 18)
    assert wall.resolution_due_at == utc(2025, 3, 7, 19)


def test_a_priority_without_a_target_and_an_unknown_policy_have_no_due_dates() -> None:
    high = RULES.targets("default", Priority.HIGH, CREATED)
    assert high.first_response_due_at is None and high.resolution_due_at is None
    none = RULES.targets("gone", Priority.NORMAL, CREATED)
    assert none.first_response_due_at is None and none.resolution_due_at is None
    assert RULES.choose("gone") == "default" and RULES.choose("24x7") == "24x7"


def test_warning_time_is_in_the_policys_time_mode() -> None:
    assert RULES.warning_at("default", utc(2025, 3, 10, 9, 15)) == utc(2025, 3, 7, 17, 45)
    assert RULES.warning_at("24x7", utc(2025, 3, 10, 9, 15)) == utc(2025, 3, 10, 8, 45)
    assert RULES.warning_at("gone", utc(2025, 3, 10, 9, 15)) == utc(2025, 3, 10, 9, 15)


def _state(**fields: datetime | None) -> SlaState:
    targets = RULES.targets("default", Priority.NORMAL, CREATED)
    base = SlaState("default", targets.first_response_due_at, targets.resolution_due_at)
    return replace(base, **fields)


def test_alarms_come_in_order_and_stop_once_stamped() -> None:
    sla = _state()
    assert RULES.alarms(TicketStatus.NEW, sla, utc(2025, 3, 10, 11)) == []
    at_warning = RULES.alarms(TicketStatus.NEW, sla, utc(2025, 3, 10, 11, 30))
    assert [(a.kind, a.target) for a in at_warning] == [
        (SlaAlarm.WARNING, SlaTarget.FIRST_RESPONSE)
    ]
    assert at_warning[0].due_at == utc(2025, 3, 10, 12)
    warned = replace(sla, warned_at=utc(2025, 3, 10, 11, 30))
    assert RULES.alarms(TicketStatus.OPEN, warned, utc(2025, 3, 10, 11, 59)) == []
    late = RULES.alarms(TicketStatus.OPEN, warned, utc(2025, 3, 10, 12))
    assert [(a.kind, a.target) for a in late] == [(SlaAlarm.BREACH, SlaTarget.FIRST_RESPONSE)]


def test_a_watcher_that_was_away_owes_everything_at_once_in_time_order() -> None:
    owed = RULES.alarms(TicketStatus.OPEN, _state(), utc(2025, 3, 20, 9))
    assert [(a.kind, a.target) for a in owed] == [
        (SlaAlarm.WARNING, SlaTarget.FIRST_RESPONSE),
        (SlaAlarm.BREACH, SlaTarget.FIRST_RESPONSE),
        (SlaAlarm.WARNING, SlaTarget.RESOLUTION),
        (SlaAlarm.BREACH, SlaTarget.RESOLUTION),
    ]


def test_the_resolution_target_is_announced_after_the_first_response_ones() -> None:
    stamped = _state(
        warned_at=utc(2025, 3, 10, 11, 30),
        breached_at=utc(2025, 3, 10, 12),
        first_responded_at=utc(2025, 3, 10, 13),
    )
    assert RULES.alarms(TicketStatus.OPEN, stamped, utc(2025, 3, 12, 13, 29)) == []
    owed = RULES.alarms(TicketStatus.OPEN, stamped, utc(2025, 3, 12, 13, 30))
    assert [(a.kind, a.target) for a in owed] == [(SlaAlarm.WARNING, SlaTarget.RESOLUTION)]


def test_solved_and_closed_tickets_owe_nothing() -> None:
    for status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        assert RULES.alarms(status, _state(), utc(2025, 4, 1, 9)) == []


def test_a_target_moved_later_is_announced_again_and_one_moved_earlier_is_not() -> None:
    warned = _state(warned_at=utc(2025, 3, 10, 11, 30))
    later = replace(warned, first_response_due_at=utc(2025, 3, 10, 16))
    assert RULES.alarms(TicketStatus.OPEN, later, utc(2025, 3, 10, 15, 29)) == []
    again = RULES.alarms(TicketStatus.OPEN, later, utc(2025, 3, 10, 15, 30))
    assert [a.kind for a in again] == [SlaAlarm.WARNING]
    earlier = replace(warned, first_response_due_at=utc(2025, 3, 10, 11, 45))
    owed = RULES.alarms(TicketStatus.OPEN, earlier, utc(2025, 3, 10, 11, 50))
    assert [a.kind for a in owed] == [SlaAlarm.BREACH]


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(0, 5_000))
def test_the_warn_horizon_never_hides_a_due_warning(now: datetime, ahead: int) -> None:
    due = UTC_HOURS.add(now, ahead)
    if RULES.warning_at("default", due) <= now:
        assert due <= RULES.warn_horizon(now)
