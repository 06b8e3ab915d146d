"""Reports for supervisors: one period's conversations, response and resolution times,
satisfaction, tickets and per-agent figures (definitions in ``kefu.domain.reports``)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kefu.api.deps import NodeDep, SupervisorDep
from kefu.domain.errors import InvalidPeriod
from kefu.domain.reports import Report, build_report, parse_period
from kefu.errors import BadInput
from kefu.timefmt import iso

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class PeriodOut(BaseModel):
    # "from" is a Python keyword: named from_ here, "from" on the wire.
    from_: str = Field(serialization_alias="from")
    to: str
    days: int


class DayOut(BaseModel):
    date: date
    opened: int
    closed: int


class ConversationsOut(BaseModel):
    opened: int
    closed: int
    waiting_now: int
    per_day: list[DayOut]


class FirstResponseOut(BaseModel):
    answered: int
    unanswered: int
    median_seconds: float | None
    p90_seconds: float | None


class ResolutionOut(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class SatisfactionOut(BaseModel):
    ratings: int
    average: float | None
    csat_percent: float | None


class TicketsOut(BaseModel):
    created: int
    solved: int
    first_response_breaches: int
    resolution_breaches: int


class AgentReportOut(BaseModel):
    id: str
    name: str
    conversations_closed: int
    messages_sent: int
    first_responses: int
    first_response_median_seconds: float | None
    ratings: int
    rating_average: float | None
    csat_percent: float | None


class ReportOut(BaseModel):
    period: PeriodOut
    generated_at: str
    conversations: ConversationsOut
    first_response: FirstResponseOut
    resolution: ResolutionOut
    satisfaction: SatisfactionOut
    tickets: TicketsOut
    agents: list[AgentReportOut]

    @classmethod
    def of(cls, report: Report, generated_at: str) -> ReportOut:
        period = report.period
        return cls.model_validate(
            {
                "period": PeriodOut(
                    from_=iso(period.start), to=iso(period.end), days=len(period.days())
                ),
                "generated_at": generated_at,
                "conversations": report.conversations,
                "first_response": report.first_response,
                "resolution": report.resolution,
                "satisfaction": report.satisfaction,
                "tickets": report.tickets,
                "agents": report.agents,
            },
            from_attributes=True,
        )


@router.get("/summary", response_model=ReportOut)
async def summary(
    caller: SupervisorDep,
    kefu: NodeDep,
    from_: str | None = Query(None, alias="from", description="ISO date or date-time (UTC)"),
    to: str | None = Query(None, description="ISO date (inclusive) or date-time (exclusive)"),
) -> ReportOut:
    """A read-only report, so a refused period changes nothing; the period is capped so
    the rows behind the percentiles stay bounded."""
    now = kefu.clock.now()
    try:
        period = parse_period(from_, to, now)
    except InvalidPeriod as exc:
        raise BadInput(exc.message, code=exc.code) from None
    data = await kefu.repos.reports.read(period, now)
    return ReportOut.of(build_report(period, data), iso(now))
