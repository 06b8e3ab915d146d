"""The pure parts of supervisor reports: percentiles, the period, the report's shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kefu.domain.errors import InvalidPeriod
from kefu.domain.reports import (
    ClosedBy,
    FirstReply,
    Period,
    Ratings,
    ReportData,
    Resolution,
    TicketCounts,
    build_report,
    parse_period,
    percentile,
)

NOW = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# ---- percentile -----------------------------------------------------------------------


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 0.5) is None


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 0.5) == percentile([7.0], 0.9) == 7.0


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert percentile([40.0, 10.0, 30.0, 20.0], 0.5) == 25.0


def test_median_of_an_odd_count_is_the_middle_value_whatever_the_order() -> None:
    assert percentile([90.0, 20.0, 31.0, 60.0, 30.0], 0.5) == 31.0


def test_p90_interpolates_between_the_closest_ranks_like_percentile_cont() -> None:
    # Ranks 0..4, position 3.6: 60 + 0.6 * (90 - 60).
    assert percentile([20.0, 30.0, 31.0, 60.0, 90.0], 0.9) == pytest.approx(78.0)
    assert percentile([1.0, 2.0], 0.0) == 1.0
    assert percentile([1.0, 2.0], 1.0) == 2.0


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_percentile_refuses_a_fraction_outside_zero_to_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], fraction)


# ---- the period ---------------------------------------------------------------------------


def test_the_default_period_is_the_last_seven_utc_days_today_included() -> None:
    period = parse_period(None, None, NOW)
    assert period == Period(utc(2026, 11, 23), utc(2026, 11, 30))
    assert period.days()[0] == date(2026, 11, 23) and period.days()[-1] == date(2026, 11, 29)


def test_dates_are_whole_days_and_to_is_inclusive() -> None:
    period = parse_period("2026-03-02", "2026-03-08", NOW)
    assert period == Period(utc(2026, 3, 2), utc(2026, 3, 9))
    assert len(period.days()) == 7
    assert parse_period("2026-03-02", "2026-03-02", NOW).days() == [date(2026, 3, 2)]


def test_date_times_are_instants_to_exclusive_and_naive_ones_are_utc() -> None:
    period = parse_period("2026-03-02T10:00:00+02:00", "2026-03-02T12:00:00", NOW)
    assert period == Period(utc(2026, 3, 2, 8), utc(2026, 3, 2, 12))
    assert parse_period("2026-03-02T10:00:00Z", "2026-03-03T10:00Z", NOW).days() == [
        date(2026, 3, 2),
        date(2026, 3, 3),
    ]


def test_one_bound_alone_takes_the_default_for_the_other() -> None:
    assert parse_period("2026-11-01", None, NOW).end == utc(2026, 11, 30)
    assert parse_period(None, "2026-03-08", NOW).start == utc(2026, 3, 2)


def test_a_period_of_92_days_is_allowed_and_one_more_day_is_not() -> None:
    period = parse_period("2026-01-01", "2026-04-02", NOW)
    assert period.end - period.start == timedelta(days=92)
    with pytest.raises(InvalidPeriod) as refused:
        parse_period("2026-01-01", "2026-04-03", NOW)
    assert refused.value.code == "period_too_long"


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "code"),
    [
        ("2026-03-09", "2026-03-02", "invalid_period"),
        ("2026-03-02T10:00Z", "2026-03-02T10:00Z", "invalid_period"),
        ("2026-03-03", "2026-03-02T12:00Z", "invalid_period"),
        ("yesterday", None, "invalid_date"),
        ("2026-02-30", None, "invalid_date"),
        ("", None, "invalid_date"),
        ("   ", None, "invalid_date"),
        (None, "2026-13-01", "invalid_date"),
        ("2026-03-02T25:00", None, "invalid_date"),
        ("9" * 41, None, "invalid_date"),
        (None, "0001-01-01", "invalid_period"),  # the default start would be before year 1
        (None, "9999-12-31", "invalid_period"),  # the end of that day is after year 9999
    ],
)
def test_bad_bounds_are_refused_with_a_code(
    raw_from: str | None, raw_to: str | None, code: str
) -> None:
    with pytest.raises(InvalidPeriod) as refused:
        parse_period(raw_from, raw_to, NOW)
    assert refused.value.code == code
    assert refused.value.message


def test_the_days_of_a_period_that_starts_and_ends_inside_days() -> None:
    period = Period(utc(2026, 3, 2, 22), utc(2026, 3, 4, 0, 0, 1))
    assert period.days() == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


# ---- the report -------------------------------------------------------------------------


def data(**fields: object) -> ReportData:
    values: dict[str, object] = {
        "opened_per_day": {},
        "closed_per_day": {},
        "waiting_now": 0,
        "first_replies": [],
        "resolutions": [],
        "closed_by": {},
        "messages_by": {},
        "agents": [],
        "tickets": TicketCounts(),
    }
    return ReportData(**(values | fields))  # type: ignore[arg-type]


PERIOD = Period(utc(2026, 3, 2), utc(2026, 3, 5))


def test_an_empty_period_has_zeros_every_day_and_no_averages() -> None:
    report = build_report(PERIOD, data(agents=[("agt_1", "Alice")]))
    assert [(d.date, d.opened, d.closed) for d in report.conversations.per_day] == [
        (date(2026, 3, 2), 0, 0),
        (date(2026, 3, 3), 0, 0),
        (date(2026, 3, 4), 0, 0),
    ]
    assert report.first_response.median_seconds is None
    assert report.resolution.p90_seconds is None
    assert report.satisfaction.average is None and report.satisfaction.csat_percent is None
    (alice,) = report.agents
    assert (alice.first_responses, alice.first_response_median_seconds, alice.ratings) == (
        0,
        None,
        0,
    )


def test_figures_from_counts_and_per_conversation_values() -> None:
    t0 = utc(2026, 3, 2, 9)
    report = build_report(
        PERIOD,
        data(
            opened_per_day={date(2026, 3, 2): 3, date(2026, 3, 4): 1},
            closed_per_day={date(2026, 3, 3): 2},
            waiting_now=4,
            first_replies=[
                FirstReply(t0, t0 + timedelta(seconds=10, milliseconds=1), "agt_1"),
                FirstReply(t0, t0 + timedelta(seconds=30), "agt_2"),
                FirstReply(t0, t0 - timedelta(seconds=2), "agt_1"),  # clock skew: 0, not -2
                FirstReply(t0),
            ],
            resolutions=[
                Resolution(t0, t0 + timedelta(minutes=10)),
                Resolution(t0, t0 + timedelta(minutes=30)),
            ],
            closed_by={
                "agt_1": ClosedBy(1, Ratings(1, 5, 1)),
                None: ClosedBy(1, Ratings(2, 5, 1)),
            },
            messages_by={"agt_1": 7, "agt_gone": 3},
            agents=[("agt_1", "Alice"), ("agt_2", "Bob")],
            tickets=TicketCounts(1, 2, 3, 4),
        ),
    )
    assert (report.conversations.opened, report.conversations.closed) == (4, 2)
    assert report.conversations.waiting_now == 4
    assert report.first_response.answered == 3 and report.first_response.unanswered == 1
    assert report.first_response.median_seconds == 10.001
    assert report.first_response.p90_seconds == 26.0  # 26.0002, to the millisecond
    assert (report.resolution.count, report.resolution.median_seconds) == (2, 1200.0)
    # Ratings 5, and 4 + 1 from a conversation nobody held: 10 / 3.
    assert report.satisfaction.ratings == 3
    assert report.satisfaction.average == 3.33
    assert report.satisfaction.csat_percent == 66.7
    assert report.tickets == TicketCounts(1, 2, 3, 4)
    alice, bob = report.agents
    assert (alice.conversations_closed, alice.messages_sent, alice.first_responses) == (1, 7, 2)
    assert alice.first_response_median_seconds == 5.0  # 0 and 10.001, rounded to ms
    assert (alice.rating_average, alice.csat_percent) == (5.0, 100.0)
    assert (bob.conversations_closed, bob.messages_sent, bob.first_responses) == (0, 0, 1)
    assert bob.first_response_median_seconds == 30.0
