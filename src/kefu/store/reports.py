"""The supervisor report's reads: grouped counts in SQL, per-conversation rows only where
a percentile needs them, on SQLite and PostgreSQL alike.

Every query is bounded by an indexed range of the period (migration 0012 added the
indexes): conversations by ``created_at`` or ``closed_at``, agents' messages by the
partial index on agent messages' ``created_at``, tickets by their own timestamps, and
each conversation's first messages through the ``(conversation_id, id)`` index. The
period is capped (``kefu.domain.reports.MAX_PERIOD``), so the rows fetched for the
percentiles are too.

The definitions of the figures live in ``kefu.domain.reports``; this module only counts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.conversation import ConversationStatus
from kefu.domain.models import SenderKind
from kefu.domain.reports import (
    SATISFIED_SCORE,
    ClosedBy,
    FirstReply,
    Period,
    Ratings,
    ReportData,
    Resolution,
    TicketCounts,
)
from kefu.store.database import Database
from kefu.store.tables import Timestamp, agents, conversations, messages, tickets

# A literal, not a bound parameter: PostgreSQL matches a partial index's predicate at
# planning time, so "parameterized query clauses do not work with a partial index" (its
# manual), and asyncpg's prepared statements may run on a generic plan. The partial index
# on agents' messages is in tables.py.
_AGENT_ONLY = messages.c.sender_kind == sa.literal_column(f"'{SenderKind.AGENT.value}'")


class ReportRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self, period: Period, now: datetime) -> ReportData:
        """Everything the report of ``period`` needs, read on one connection."""
        async with self._db.connect() as conn:
            return ReportData(
                opened_per_day=await self._per_day(conn, conversations.c.created_at, period),
                closed_per_day=await self._per_day(conn, conversations.c.closed_at, period),
                waiting_now=await self._waiting(conn),
                first_replies=await self._first_replies(conn, period),
                resolutions=await self._resolutions(conn, period),
                closed_by=await self._closed_by(conn, period),
                messages_by=await self._messages_by(conn, period),
                agents=await self._active_agents(conn),
                tickets=await self._tickets(conn, period, now),
            )

    def _day(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
        """The UTC day of a timestamp as ``YYYY-MM-DD`` text, the same on both stores."""
        if self._db.dialect == "postgresql":
            utc = sa.func.timezone("UTC", column)
            return sa.func.to_char(utc, "YYYY-MM-DD", type_=sa.String)
        # SQLite keeps UTC text ("2026-11-28 13:28:37.299140"): its date part is the day.
        return sa.func.date(column, type_=sa.String)

    async def _per_day(
        self, conn: AsyncConnection, column: sa.ColumnElement[Any], period: Period
    ) -> dict[date, int]:
        day = self._day(column).label("day")
        query = (
            sa.select(day, sa.func.count().label("n")).where(_within(column, period)).group_by(day)
        )
        rows = (await conn.execute(query)).all()
        return {date.fromisoformat(row.day): int(row.n) for row in rows}

    @staticmethod
    async def _waiting(conn: AsyncConnection) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(conversations)
            .where(conversations.c.status == ConversationStatus.WAITING.value)
        )
        return int((await conn.execute(query)).scalar_one())

    @staticmethod
    async def _first_replies(conn: AsyncConnection, period: Period) -> list[FirstReply]:
        """Per conversation opened in the period: the visitor's first message, and the
        first agent message after it that is no private note (bots and system messages
        are not agents). Each is the smallest id of its kind, found through the
        ``(conversation_id, id)`` index, then joined by primary key for its time."""
        asked = messages.alias("asked")
        answered = messages.alias("answered")
        first_question = (
            sa.select(sa.func.min(asked.c.id))
            .where(asked.c.conversation_id == conversations.c.id)
            .where(asked.c.sender_kind == SenderKind.VISITOR.value)
            .scalar_subquery()
        )
        opened = (
            sa.select(conversations.c.id, first_question.label("asked_id"))
            .where(_within(conversations.c.created_at, period))
            .subquery("opened")
        )
        first_answer = (
            sa.select(sa.func.min(answered.c.id))
            .where(answered.c.conversation_id == opened.c.id)
            .where(answered.c.sender_kind == SenderKind.AGENT.value)
            .where(answered.c.internal.is_(sa.false()))
            .where(answered.c.id > opened.c.asked_id)
            .scalar_subquery()
        )
        pairs = sa.select(opened.c.asked_id, first_answer.label("answered_id")).subquery("pairs")
        question = messages.alias("question")
        answer = messages.alias("answer")
        query = sa.select(
            question.c.created_at.label("asked_at"),
            answer.c.created_at.label("answered_at"),
            answer.c.sender_id.label("answered_by"),
        ).select_from(
            pairs.join(question, question.c.id == pairs.c.asked_id).outerjoin(
                answer, answer.c.id == pairs.c.answered_id
            )
        )
        rows = (await conn.execute(query)).all()
        return [FirstReply(row.asked_at, row.answered_at, row.answered_by) for row in rows]

    @staticmethod
    async def _resolutions(conn: AsyncConnection, period: Period) -> list[Resolution]:
        query = sa.select(conversations.c.created_at, conversations.c.closed_at).where(
            _within(conversations.c.closed_at, period)
        )
        rows = (await conn.execute(query)).all()
        return [Resolution(row.created_at, row.closed_at) for row in rows]

    @staticmethod
    async def _closed_by(conn: AsyncConnection, period: Period) -> dict[str | None, ClosedBy]:
        score = conversations.c.rating_score
        query = (
            sa.select(
                conversations.c.assignee_id,
                sa.func.count().label("closed"),
                sa.func.count(score).label("ratings"),
                sa.func.coalesce(sa.func.sum(score), 0).label("total"),
                sa.func.count(sa.case((score >= SATISFIED_SCORE, 1))).label("satisfied"),
            )
            .where(_within(conversations.c.closed_at, period))
            .group_by(conversations.c.assignee_id)
        )
        rows = (await conn.execute(query)).all()
        return {
            row.assignee_id: ClosedBy(
                int(row.closed), Ratings(int(row.ratings), int(row.total), int(row.satisfied))
            )
            for row in rows
        }

    @staticmethod
    def messages_query(period: Period) -> sa.Select[Any]:
        """Agents' messages (not notes) per agent in the period, through the partial
        index on agents' messages (public for the test that checks the plans use it)."""
        return (
            sa.select(messages.c.sender_id, sa.func.count().label("n"))
            .where(_AGENT_ONLY)
            .where(_within(messages.c.created_at, period))
            .where(messages.c.internal.is_(sa.false()))
            .where(messages.c.sender_id.is_not(None))
            .group_by(messages.c.sender_id)
        )

    async def _messages_by(self, conn: AsyncConnection, period: Period) -> dict[str, int]:
        rows = (await conn.execute(self.messages_query(period))).all()
        return {row.sender_id: int(row.n) for row in rows}

    @staticmethod
    async def _active_agents(conn: AsyncConnection) -> list[tuple[str, str]]:
        query = (
            sa.select(agents.c.id, agents.c.name)
            .where(agents.c.disabled.is_(sa.false()))
            .order_by(agents.c.name, agents.c.id)
        )
        return [(row.id, row.name) for row in (await conn.execute(query)).all()]

    @staticmethod
    async def _tickets(conn: AsyncConnection, period: Period, now: datetime) -> TicketCounts:
        """Counts in one round trip, each over its own indexed timestamp.

        A target is breached in the period when it fell due in it and was missed: the
        first response came after it (or has not come, while the ticket was unsolved at
        that moment), the resolution came after it (a pending ticket's clock stopped when
        it went pending). Derived from the timestamps rather than ``sla_breached_at``,
        which is one stamp for both targets and lags by the watcher's interval.
        """
        at_now = sa.literal(now, Timestamp)

        def count(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
            return sa.select(sa.func.count()).select_from(tickets).where(*where).scalar_subquery()

        first_due = tickets.c.first_response_due_at
        resolution_due = tickets.c.resolution_due_at
        query = sa.select(
            count(_within(tickets.c.created_at, period)).label("created"),
            count(_within(tickets.c.solved_at, period)).label("solved"),
            count(
                _within(first_due, period),
                sa.func.coalesce(tickets.c.first_responded_at, tickets.c.solved_at, at_now)
                > first_due,
            ).label("first_response_breaches"),
            count(
                _within(resolution_due, period),
                sa.func.coalesce(tickets.c.solved_at, tickets.c.sla_paused_at, at_now)
                > resolution_due,
            ).label("resolution_breaches"),
        )
        row = (await conn.execute(query)).one()
        return TicketCounts(
            created=int(row.created),
            solved=int(row.solved),
            first_response_breaches=int(row.first_response_breaches),
            resolution_breaches=int(row.resolution_breaches),
        )


def _within(column: sa.ColumnElement[Any], period: Period) -> sa.ColumnElement[bool]:
    return sa.and_(column >= period.start, column < period.end)
