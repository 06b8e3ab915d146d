"""When live chat is open: a team's office hours (``chat.office_hours``, or a site's own),
the same weekly opening-hours type the SLA clock counts in, plus dated exceptions a site's
admin sets: holidays (closed all day) and special hours for one date (a shorter Christmas
Eve, a Sunday opening before a sale). Pure: the clock comes in as an argument.

Every date is a local date in the schedule's own zone, and every window is computed from
the wall-clock times on that date, so a daylight-saving change moves the UTC instants but
never the hours on the office wall (``BusinessHours.window`` resolves a wall time inside
a spring-forward gap to the instant after the gap).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

from kefu.domain.sla import BusinessHours

HORIZON_DAYS = 400  # holidays can close a long stretch; past a year there is no opening


class Schedule(Protocol):
    """Anything that says when it opens and closes on a local date (None: closed)."""

    @property
    def zone(self) -> ZoneInfo: ...

    def window(self, day: date) -> tuple[datetime, datetime] | None: ...


def _empty() -> Mapping[date, tuple[time, time]]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DatedHours:
    """Weekly hours with dated exceptions. A date is either a holiday or has special hours,
    never both (``of`` refuses it); special hours open a date the week would keep closed."""

    weekly: BusinessHours
    holidays: frozenset[date] = frozenset()
    special: Mapping[date, tuple[time, time]] = field(default_factory=_empty)

    @classmethod
    def of(
        cls,
        weekly: BusinessHours,
        holidays: Iterable[date] = (),
        special: Mapping[date, tuple[time, time]] | None = None,
    ) -> DatedHours:
        """Raises ValueError for a date that is both, or special hours that do not open
        before they close."""
        closed = frozenset(holidays)
        hours = dict(special or {})
        both = sorted(closed & hours.keys())
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a holiday and a day of special hours")
        for day, (opens, closes) in hours.items():
            if opens >= closes:
                raise ValueError(
                    f"the special hours of {day.isoformat()} must open before they close"
                )
        return cls(weekly, closed, MappingProxyType(hours))

    @property
    def zone(self) -> ZoneInfo:
        return self.weekly.zone

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC instants the office opens and closes on local date ``day``, if open."""
        if day in self.holidays:
            return None
        special = self.special.get(day)
        if special is None:
            return self.weekly.window(day)
        opens = datetime.combine(day, special[0], tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, special[1], tzinfo=self.zone).astimezone(UTC)
        # 02:30-03:00 on a spring-forward day: 02:30 reads as 03:30, after the close.
        return (opens, closes) if opens < closes else None


def is_open(hours: Schedule, moment: datetime) -> bool:
    window = hours.window(moment.astimezone(hours.zone).date())
    return window is not None and window[0] <= moment < window[1]


def next_opening(hours: Schedule, moment: datetime) -> datetime | None:
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
