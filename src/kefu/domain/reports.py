"""Supervisor reports: the period asked for, percentiles, and the figures' final shape.

The store answers with grouped counts and, where a percentile needs them, one row per
conversation (``ReportData``); this module turns that into the report a team lead reads
(``Report``). Keeping the arithmetic here means each definition (what counts as a first
response, how a median of an even count is taken, when a day starts) is written once,
tested without a database, and identical on SQLite and PostgreSQL.

Days are UTC days: the store keeps UTC, and a report that shifted its days with each
reader's zone would not match the same report read by a colleague elsewhere.

Pure: no I/O, no framework.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from kefu.domain.errors import InvalidPeriod

# A quarter and a day: "last quarter" fits, and the per-conversation rows fetched for the
# percentiles stay bounded by what a quarter of chats holds.
MAX_PERIOD = timedelta(days=92)
DEFAULT_PERIOD = timedelta(days=7)
# Longer than any ISO date-time with offset and microseconds (32): anything longer is
# not one, and is refused before it reaches the parser.
MAX_BOUND_LENGTH = 40
# A rating of 4 or 5 (of 5) is a satisfied customer: the usual CSAT definition.
SATISFIED_SCORE = 4


@dataclass(frozen=True, slots=True)
class Period:
    """``start`` inclusive, ``end`` exclusive, both UTC."""

    start: datetime
    end: datetime

    def days(self) -> list[date]:
        """Every UTC day the period touches, in order: the per-day chart's x axis."""
        first = self.start.date()
        last = (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def parse_bound(name: str, raw: str, *, is_end: bool) -> datetime:
    """One bound of the period: an ISO date (a whole UTC day, so ``to=2026-11-07`` includes
    the 7th) or an ISO date-time (naive = UTC; ``to`` is then exclusive)."""
    text = raw.strip()
    if not text or len(text) > MAX_BOUND_LENGTH:
        raise InvalidPeriod(f"{name}: expected an ISO date or date-time", code="invalid_date")
    try:
        if len(text) == len("YYYY-MM-DD"):
            day: date | datetime = date.fromisoformat(text)
        else:
            day = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(
            f"{name}: {text!r} is not an ISO date or date-time", code="invalid_date"
        ) from None
    # Past here only arithmetic can fail: OverflowError at year 1 or 9999, for the caller.
    if not isinstance(day, datetime):
        return _midnight(day) + (timedelta(days=1) if is_end else timedelta(0))
    if day.tzinfo is None:
        return day.replace(tzinfo=UTC)
    return day.astimezone(UTC)


def parse_period(raw_from: str | None, raw_to: str | None, now: datetime) -> Period:
    """The period of ``?from=&to=``; by default the last 7 UTC days, today included.

    Refused (``InvalidPeriod``, nothing computed): a bound that is no date, ``from`` not
    before ``to``, a period longer than ``MAX_PERIOD``.
    """
    try:
        end = (
            parse_bound("to", raw_to, is_end=True)
            if raw_to is not None
            else _midnight(now.astimezone(UTC).date()) + timedelta(days=1)
        )
        start = (
            parse_bound("from", raw_from, is_end=False)
            if raw_from is not None
            else end - DEFAULT_PERIOD
        )
    except OverflowError:
        raise InvalidPeriod(
            "the period reaches beyond the years 1 to 9999", code="invalid_period"
        ) from None
    if start >= end:
        raise InvalidPeriod("from must be before to", code="invalid_period")
    if end - start > MAX_PERIOD:
        raise InvalidPeriod(f"the period is at most {MAX_PERIOD.days} days", code="period_too_long")
    return Period(start, end)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile by linear interpolation between the closest ranks, as
    PostgreSQL's ``percentile_cont`` (so the median of an even count is the mean of the
    middle two); None for no values."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---- what the store answers ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstReply:
    """A conversation opened in the period: its visitor's first message and the first
    agent message after it (not a note, not the bot), if any yet."""

    asked_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    """A conversation closed in the period."""

    opened_at: datetime
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class Ratings:
    """Ratings counted over conversations closed in the period."""

    count: int = 0
    total: int = 0
    satisfied: int = 0  # scores of SATISFIED_SCORE or more

    def __add__(self, other: Ratings) -> Ratings:
        return Ratings(
            self.count + other.count, self.total + other.total, self.satisfied + other.satisfied
        )

    @property
    def average(self) -> float | None:
        return round(self.total / self.count, 2) if self.count else None

    @property
    def csat_percent(self) -> float | None:
        return round(100 * self.satisfied / self.count, 1) if self.count else None


@dataclass(frozen=True, slots=True)
class ClosedBy:
    """Conversations closed in the period with one assignee (None: nobody was)."""

    closed: int = 0
    ratings: Ratings = field(default_factory=Ratings)


@dataclass(frozen=True, slots=True)
class TicketCounts:
    created: int = 0
    solved: int = 0
    first_response_breaches: int = 0
    resolution_breaches: int = 0


@dataclass(frozen=True, slots=True)
class ReportData:
    """The store's answer for one period: grouped counts, and per-conversation values
    only for the percentiles."""

    opened_per_day: Mapping[date, int]
    closed_per_day: Mapping[date, int]
    waiting_now: int
    first_replies: Sequence[FirstReply]
    resolutions: Sequence[Resolution]
    closed_by: Mapping[str | None, ClosedBy]
    messages_by: Mapping[str, int]
    agents: Sequence[tuple[str, str]]  # active agents: (id, name)
    tickets: TicketCounts


# ---- the report ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    opened: int
    closed: int


@dataclass(frozen=True, slots=True)
class Conversations:
    opened: int
    closed: int
    waiting_now: int
    per_day: list[Day]


@dataclass(frozen=True, slots=True)
class FirstResponse:
    answered: int
    unanswered: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class ResolutionTimes:
    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class Satisfaction:
    ratings: int
    average: float | None
    csat_percent: float | None


@dataclass(frozen=True, slots=True)
class AgentFigures:
    id: str
    name: str
    conversations_closed: int
    messages_sent: int
    first_responses: int
    first_response_median_seconds: float | None
    ratings: int
    rating_average: float | None
    csat_percent: float | None


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    conversations: Conversations
    first_response: FirstResponse
    resolution: ResolutionTimes
    satisfaction: Satisfaction
    tickets: TicketCounts
    agents: list[AgentFigures]


def _seconds(later: datetime, earlier: datetime) -> float:
    # Never negative: clocks of two nodes may disagree by a little on who wrote first.
    return max(0.0, (later - earlier).total_seconds())


def _rounded(value: float | None) -> float | None:
    """Milliseconds are the store's useful precision; more digits are noise in a report."""
    return None if value is None else round(value, 3)


def _median(values: Sequence[float]) -> float | None:
    return _rounded(percentile(values, 0.5))


def _p90(values: Sequence[float]) -> float | None:
    return _rounded(percentile(values, 0.9))


def build_report(period: Period, data: ReportData) -> Report:
    """The report of ``period`` from the store's ``data``."""
    waits: list[float] = []
    waits_by: dict[str, list[float]] = {}
    for reply in data.first_replies:
        if reply.answered_at is None:
            continue
        wait = _seconds(reply.answered_at, reply.asked_at)
        waits.append(wait)
        if reply.answered_by is not None:
            waits_by.setdefault(reply.answered_by, []).append(wait)
    durations = [_seconds(r.closed_at, r.opened_at) for r in data.resolutions]
    ratings = sum((closed.ratings for closed in data.closed_by.values()), Ratings())
    days = [
        Day(day, data.opened_per_day.get(day, 0), data.closed_per_day.get(day, 0))
        for day in period.days()
    ]
    agents = []
    for agent_id, name in data.agents:
        closed = data.closed_by.get(agent_id, ClosedBy())
        own = waits_by.get(agent_id, [])
        agents.append(
            AgentFigures(
                id=agent_id,
                name=name,
                conversations_closed=closed.closed,
                messages_sent=data.messages_by.get(agent_id, 0),
                first_responses=len(own),
                first_response_median_seconds=_median(own),
                ratings=closed.ratings.count,
                rating_average=closed.ratings.average,
                csat_percent=closed.ratings.csat_percent,
            )
        )
    return Report(
        period=period,
        conversations=Conversations(
            opened=sum(data.opened_per_day.values()),
            closed=sum(data.closed_per_day.values()),
            waiting_now=data.waiting_now,
            per_day=days,
        ),
        first_response=FirstResponse(
            answered=len(waits),
            unanswered=len(data.first_replies) - len(waits),
            median_seconds=_median(waits),
            p90_seconds=_p90(waits),
        ),
        resolution=ResolutionTimes(
            count=len(durations), median_seconds=_median(durations), p90_seconds=_p90(durations)
        ),
        satisfaction=Satisfaction(
            ratings=ratings.count, average=ratings.average, csat_percent=ratings.csat_percent
        ),
        tickets=data.tickets,
        agents=agents,
    )
