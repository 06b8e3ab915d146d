"""SLA arithmetic: business time, due dates, and which announcements are due.

A target of "4 hours" means four hours of *business* time when the policy says so: a
ticket created on Friday at 17:00 with business hours 09:00-18:00 is due on Monday at
12:00. Business minutes are real elapsed minutes while the business is open, counted in
the business's own time zone, so a DST change shifts the opening hours in UTC but never
stretches or shrinks an 09:00-18:00 day. Holidays are local dates.

Conventions, chosen so that adding and counting agree (``between(a, add(a, m)) == m``):
adding that ends exactly at closing time returns the closing time ("due by end of day
Friday"), not the next opening; adding zero returns the start unchanged.

Announcements: the store keeps one warning stamp and one breach stamp per ticket, each
the time of the latest announcement. A target's warning (or breach) has been announced
exactly when the stamp is at or after the moment it became due, because a stamp is only
ever written after that moment. One column per kind thus covers both targets (first
response and resolution), a target moved later by a priority change is announced again
when its new time comes, and a target moved earlier is not announced twice.

Pending pauses the resolution clock, as in Zendesk: "pending" waits on the customer, so
the time it lasts is not the agents'. Going pending stamps ``paused_at``; leaving it (to
open, or straight to solved) moves ``resolution_due_at`` out by the time paused, counted
as the policy counts (business or wall minutes), and adds that to ``paused_minutes`` so a
later priority change recomputes the target with the pauses still in it. Nothing about
the resolution is announced while paused. A target already past due when the pause began
stays where it was: a breach is not undone by waiting on the customer afterwards. The
first-response target is not paused: the customer is owed a first answer regardless.

Pure: no I/O, no framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from msgspec.structs import replace

from kefu.domain.tickets import Priority, SlaAlarm, SlaState, SlaTarget, TicketStatus

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Search bound for the next business minute: ten years of days. Only reached by a calendar
# whose every remaining day is a holiday, which is a configuration mistake, not a loop.
MAX_DAYS = 3660
ZERO = timedelta(0)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("SLA arithmetic needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _minutes(minutes: float) -> timedelta:
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    return timedelta(minutes=minutes)


class TimeMode(Protocol):
    """How a policy counts minutes: business hours, or every minute (wall time)."""

    def add(self, start: datetime, minutes: float) -> datetime: ...

    def subtract(self, end: datetime, minutes: float) -> datetime: ...

    def between(self, a: datetime, b: datetime) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class WallTime:
    """Every minute counts: for 24/7 support desks (policy ``business_hours: false``)."""

    def add(self, start: datetime, minutes: float) -> datetime:
        return _utc(start) + _minutes(minutes)

    def subtract(self, end: datetime, minutes: float) -> datetime:
        return _utc(end) - _minutes(minutes)

    def between(self, a: datetime, b: datetime) -> timedelta:
        return _utc(b) - _utc(a)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening hours in one zone: the same local hours on each listed weekday."""

    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday, as date.weekday()
    start: time
    end: time
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        timezone: str = "UTC",
        days: Iterable[str] = WEEKDAYS[:5],
        start: str = "09:00",
        end: str = "18:00",
        holidays: Iterable[date] = (),
    ) -> BusinessHours:
        """From the config's spelling (``"mon"``, ``"09:00"``); raises ValueError."""
        day_numbers = frozenset(WEEKDAYS.index(day) for day in days)
        opens, closes = time.fromisoformat(start), time.fromisoformat(end)
        if not day_numbers:
            raise ValueError("business hours need at least one weekday")
        if opens >= closes:
            raise ValueError("business hours must open before they close")
        return cls(ZoneInfo(timezone), day_numbers, opens, closes, frozenset(holidays))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC instants the business opens and closes on local date ``day``, if open.

        A wall time inside a spring-forward gap resolves after the gap (fold=0), as the
        clocks on the office wall would show it.
        """
        if day.weekday() not in self.days or day in self.holidays:
            return None
        opens = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
        return (opens, closes) if opens < closes else None

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of business time after ``start``."""
        moment, remaining = _utc(start), _minutes(minutes)
        if remaining == ZERO:
            return moment
        day = self._local_day(moment)
        for _ in range(MAX_DAYS):
            window = self.window(day)
            if window is not None and moment < window[1]:
                begin = max(moment, window[0])
                available = window[1] - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise ValueError(f"no business hours within {MAX_DAYS} days of {start.isoformat()}")

    def subtract(self, end: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of business time before ``end`` (the latest such)."""
        moment, remaining = _utc(end), _minutes(minutes)
        if remaining == ZERO:
            return moment
        day = self._local_day(moment)
        for _ in range(MAX_DAYS):
            window = self.window(day)
            if window is not None and moment > window[0]:
                finish = min(moment, window[1])
                available = finish - window[0]
                if remaining <= available:
                    return finish - remaining
                remaining -= available
            day -= timedelta(days=1)
        raise ValueError(f"no business hours within {MAX_DAYS} days before {end.isoformat()}")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        first, last = _utc(a), _utc(b)
        if last < first:
            return -self.between(b, a)
        total = ZERO
        day, final = self._local_day(first), self._local_day(last)
        while day <= final:
            window = self.window(day)
            if window is not None:
                overlap = min(last, window[1]) - max(first, window[0])
                if overlap > ZERO:
                    total += overlap
            day += timedelta(days=1)
        return total


def add_business_minutes(start: datetime, minutes: float, hours: BusinessHours) -> datetime:
    return hours.add(start, minutes)


def business_minutes_between(a: datetime, b: datetime, hours: BusinessHours) -> float:
    return hours.between(a, b).total_seconds() / 60


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets in minutes per priority; a priority missing from a map has no target."""

    name: str
    first_response_minutes: Mapping[str, int]
    resolution_minutes: Mapping[str, int]
    business_hours: bool = True
    warn_before_minutes: int = 30


@dataclass(frozen=True, slots=True)
class Alarm:
    """An announcement the watcher owes: ``at`` is when it became due (warning time or
    the target's due time), ``due_at`` the target's due time."""

    kind: SlaAlarm
    target: SlaTarget
    due_at: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class Targets:
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None


NO_TARGETS = Targets(None, None)
WALL = WallTime()


class SlaRules:
    """The configured policies over one set of business hours."""

    def __init__(
        self, hours: BusinessHours, policies: Mapping[str, SlaPolicy], default: str | None
    ) -> None:
        if default is not None and default not in policies:
            raise ValueError(f"default SLA policy {default!r} is not defined")
        self.hours = hours
        self.policies = dict(policies)
        self.default = default

    def choose(self, requested: str | None) -> str | None:
        """The policy a new ticket gets: the one asked for if defined, else the default."""
        if requested is not None and requested in self.policies:
            return requested
        return self.default

    def mode(self, policy: SlaPolicy) -> TimeMode:
        return self.hours if policy.business_hours else WALL

    def mode_of(self, policy_name: str | None) -> TimeMode:
        """The named policy's time mode; wall time for one no longer configured."""
        policy = self.policies.get(policy_name) if policy_name is not None else None
        return WALL if policy is None else self.mode(policy)

    def targets(
        self,
        policy_name: str | None,
        priority: Priority,
        start: datetime,
        paused_minutes: float = 0.0,
    ) -> Targets:
        """Due dates counted from ``start`` (the ticket's creation); the resolution's moved
        out by ``paused_minutes`` of finished pauses."""
        policy = self.policies.get(policy_name) if policy_name is not None else None
        if policy is None:
            return NO_TARGETS
        mode = self.mode(policy)
        first = policy.first_response_minutes.get(priority.value)
        resolution = policy.resolution_minutes.get(priority.value)
        return Targets(
            mode.add(start, first) if first is not None else None,
            mode.add(start, resolution + paused_minutes) if resolution is not None else None,
        )

    def pause(self, sla: SlaState, now: datetime) -> SlaState:
        """The ticket went pending: the resolution clock stops at ``now``."""
        return sla if sla.paused_at is not None else replace(sla, paused_at=_utc(now))

    def resume(self, sla: SlaState, now: datetime) -> SlaState:
        """The ticket left pending at ``now``: the resolution target moves out by the time
        paused, in the policy's time mode; unless it was already past due when the pause
        began (the breach stands)."""
        if sla.paused_at is None:
            return sla
        due = sla.resolution_due_at
        if due is None or _utc(sla.paused_at) >= _utc(due):
            return replace(sla, paused_at=None)
        paused = self.mode_of(sla.policy).between(sla.paused_at, now)
        minutes = max(paused, ZERO).total_seconds() / 60
        return replace(
            sla,
            paused_at=None,
            resolution_due_at=self.mode_of(sla.policy).add(due, minutes),
            paused_minutes=sla.paused_minutes + minutes,
        )

    def after_change(
        self,
        sla: SlaState,
        created_at: datetime,
        now: datetime,
        *,
        status: tuple[TicketStatus, TicketStatus] | None = None,
        priority: Priority | None = None,
    ) -> SlaState:
        """The SLA columns after a change of status (before, after) and/or priority (the
        new one): targets recomputed from creation on a priority change (pauses kept), the
        resolution clock paused or resumed around ``pending``, ``solved_at`` stamped on
        solving and cleared on reopening. Pure: the caller stores what differs."""
        if priority is not None and sla.policy in self.policies:
            targets = self.targets(sla.policy, priority, created_at, sla.paused_minutes)
            sla = replace(
                sla,
                first_response_due_at=targets.first_response_due_at,
                resolution_due_at=targets.resolution_due_at,
            )
        if status is not None:
            before, after = status
            if before is TicketStatus.PENDING:
                sla = self.resume(sla, now)
            if after is TicketStatus.PENDING:
                sla = self.pause(sla, now)
            if after is TicketStatus.SOLVED:
                sla = replace(sla, solved_at=now)
            elif before is TicketStatus.SOLVED and after.is_active:
                sla = replace(sla, solved_at=None)
        return sla

    def warning_at(self, policy_name: str | None, due: datetime) -> datetime:
        """``warn_before_minutes`` before ``due``, in the policy's time mode. A policy no
        longer configured warns at the due time: late, never lost."""
        policy = self.policies.get(policy_name) if policy_name is not None else None
        if policy is None:
            return _utc(due)
        return self.mode(policy).subtract(due, policy.warn_before_minutes)

    def warn_horizon(self, now: datetime) -> datetime:
        """No target due after this can be in its warning period at ``now``: the store
        only needs to look at targets due by then (a cheap prefilter; ``alarms`` decides)."""
        horizon = _utc(now)
        for policy in self.policies.values():
            horizon = max(horizon, self.mode(policy).add(now, policy.warn_before_minutes))
        return horizon

    def alarms(self, status: TicketStatus, sla: SlaState, now: datetime) -> list[Alarm]:
        """The announcements owed at ``now``, oldest first; empty once each was stamped.

        Only active tickets have running targets: solving stops the clock. The first
        response target ends with the first public agent reply; the resolution's says
        nothing while paused (pending).
        """
        if not status.is_active:
            return []
        now = _utc(now)
        owed: list[Alarm] = []
        for target, due in active_targets(sla):
            warn = self.warning_at(sla.policy, due)
            if warn <= now and not _announced(sla.warned_at, warn):
                owed.append(Alarm(SlaAlarm.WARNING, target, due, warn))
            if due <= now and not _announced(sla.breached_at, due):
                owed.append(Alarm(SlaAlarm.BREACH, target, due, due))
        owed.sort(key=lambda alarm: (alarm.at, alarm.kind is SlaAlarm.BREACH))
        return owed


def active_targets(sla: SlaState) -> list[tuple[SlaTarget, datetime]]:
    found: list[tuple[SlaTarget, datetime]] = []
    if sla.first_response_due_at is not None and sla.first_responded_at is None:
        found.append((SlaTarget.FIRST_RESPONSE, sla.first_response_due_at))
    if sla.resolution_due_at is not None and sla.paused_at is None:
        found.append((SlaTarget.RESOLUTION, sla.resolution_due_at))
    return found


def _announced(stamp: datetime | None, became_due: datetime) -> bool:
    return stamp is not None and stamp >= became_due
