"""When live chat is open: a team's office hours (``chat.office_hours``), the same
opening-hours type the SLA clock counts in. Pure: the clock comes in as an argument."""

from __future__ import annotations

from datetime import datetime, timedelta

from kefu.domain.sla import BusinessHours

HORIZON_DAYS = 400  # holidays can close a long stretch; past a year there is no opening


def is_open(hours: BusinessHours, moment: datetime) -> bool:
    window = hours.window(moment.astimezone(hours.zone).date())
    return window is not None and window[0] <= moment < window[1]


def next_opening(hours: BusinessHours, moment: datetime) -> datetime | None:
    """The next instant the office opens after ``moment`` (``moment`` itself if open),
    in UTC; None when no opening day falls within ``HORIZON_DAYS``."""
    if is_open(hours, moment):
        return moment
    day = moment.astimezone(hours.zone).date()
    for offset in range(HORIZON_DAYS):
        window = hours.window(day + timedelta(days=offset))
        if window is not None and window[0] > moment:
            return window[0]
    return None
