"""Tickets, their comments and history, the SLA stamps, and the watcher's due query.

Writes run in the caller's unit of work (``TicketsInUnit``, its ``tickets``): the ticket
service opens one for the change, its history row and its outbox event, so they commit
(or vanish) together; a rules processor passes its own the same way. The service never
holds the connection: ``TicketRepository`` reads on connections of its own.

Read-modify-write starts with a write lock on the row (``lock``, ``kefu.store.locks``:
on SQLite the first statement of a write transaction must be a write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.roles import Role
from kefu.domain.tickets import (
    ACTIVE_STATUSES,
    Channel,
    HistoryEntry,
    NewTicket,
    Priority,
    SlaAlarm,
    SlaState,
    SlaTarget,
    Ticket,
    TicketComment,
    TicketStatus,
)
from kefu.store.assignees import rule_assignee
from kefu.store.bulk import insert_rows, insert_with_ids
from kefu.store.database import Database
from kefu.store.locks import lock_row
from kefu.store.offline import OfflineMessage
from kefu.store.rows import ValuesRow
from kefu.store.tables import (
    conversations,
    offline_messages,
    ticket_comments,
    ticket_history,
    tickets,
)

_ACTIVE = sorted(status.value for status in ACTIVE_STATUSES)
_STAMP = {SlaAlarm.WARNING: tickets.c.sla_warned_at, SlaAlarm.BREACH: tickets.c.sla_breached_at}
_DUE = {
    SlaTarget.FIRST_RESPONSE: tickets.c.first_response_due_at,
    SlaTarget.RESOLUTION: tickets.c.resolution_due_at,
}


TICKET_COLUMNS = (
    "subject",
    "body",
    "status",
    "priority",
    "customer_key",
    "assignee_id",
    "queue",
    "conversation_id",
    "channel",
    "created_by",
    "created_at",
    "updated_at",
    "sla_policy",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "solved_at",
    "sla_warned_at",
    "sla_breached_at",
)
HISTORY_COLUMNS = ("ticket_id", "at", "actor", "action", "detail")


def ticket_record(row: Any) -> Ticket:
    return Ticket(
        id=int(row.id),
        subject=row.subject,
        body=row.body,
        status=TicketStatus(row.status),
        priority=Priority(row.priority),
        customer_key=row.customer_key,
        assignee_id=row.assignee_id,
        queue=row.queue,
        conversation_id=row.conversation_id,
        channel=Channel(row.channel),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        sla=SlaState(
            policy=row.sla_policy,
            first_response_due_at=row.first_response_due_at,
            resolution_due_at=row.resolution_due_at,
            first_responded_at=row.first_responded_at,
            solved_at=row.solved_at,
            warned_at=row.sla_warned_at,
            breached_at=row.sla_breached_at,
            paused_at=row.sla_paused_at,
            paused_minutes=float(row.sla_paused_minutes),
        ),
    )


def comment_record(row: Any) -> TicketComment:
    return TicketComment(
        id=int(row.id),
        ticket_id=int(row.ticket_id),
        author=row.author,
        author_name=row.author_name,
        body=row.body,
        internal=bool(row.internal),
        created_at=row.created_at,
    )


def history_record(row: Any) -> HistoryEntry:
    return HistoryEntry(
        id=int(row.id),
        ticket_id=int(row.ticket_id),
        at=row.at,
        actor=row.actor,
        action=row.action,
        detail=row.detail,
    )


def _row(ticket: NewTicket) -> tuple[Any, ...]:
    """The ``TICKET_COLUMNS`` of a new ticket, in order."""
    sla = ticket.sla
    return (
        ticket.subject,
        ticket.body,
        # ``_value_``: the same string as ``.value``, whose enum property costs ~0.2 us a
        # read (three per ticket in a batch of thousands).
        ticket.status._value_,
        ticket.priority._value_,
        ticket.customer_key,
        ticket.assignee_id,
        ticket.queue,
        ticket.conversation_id,
        ticket.channel._value_,
        ticket.created_by,
        ticket.created_at,
        ticket.created_at,  # updated_at
        sla.policy,
        sla.first_response_due_at,
        sla.resolution_due_at,
        sla.first_responded_at,
        sla.solved_at,
        sla.warned_at,
        sla.breached_at,
    )


class HistoryRow(msgspec.Struct, frozen=True):
    """A history row to write: one per change, with who made it."""

    ticket_id: int
    action: str
    actor: str | None
    at: datetime
    detail: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """The list filters; ``None`` means "any"."""

    customer_key: str | None = None
    status: TicketStatus | None = None
    assignee_id: str | None = None
    queue: str | None = None
    priority: Priority | None = None


class TicketRepository:
    """Reads on connections of their own (lists, the SLA watcher's due query)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- reads ----------------------------------------------------------------------------
    async def get(self, ticket_id: int) -> Ticket | None:
        query = tickets.select().where(tickets.c.id == ticket_id)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return ticket_record(row) if row else None

    async def search(
        self, where: TicketFilter, *, before: int | None = None, limit: int = 50
    ) -> list[Ticket]:
        """Newest first (ids are sequential); ``before`` is the last id already seen."""
        query = tickets.select()
        if where.customer_key is not None:
            query = query.where(tickets.c.customer_key == where.customer_key)
        if where.status is not None:
            query = query.where(tickets.c.status == where.status.value)
        if where.assignee_id is not None:
            query = query.where(tickets.c.assignee_id == where.assignee_id)
        if where.queue is not None:
            query = query.where(tickets.c.queue == where.queue)
        if where.priority is not None:
            query = query.where(tickets.c.priority == where.priority.value)
        if before is not None:
            query = query.where(tickets.c.id < before)
        query = query.order_by(tickets.c.id.desc()).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ticket_record(row) for row in rows]

    async def comments(
        self, ticket_id: int, *, after: int = 0, limit: int = 100, public_only: bool = False
    ) -> list[TicketComment]:
        """Oldest first, strictly after comment id ``after``."""
        query = (
            ticket_comments.select()
            .where(ticket_comments.c.ticket_id == ticket_id)
            .where(ticket_comments.c.id > after)
        )
        if public_only:
            query = query.where(ticket_comments.c.internal.is_(False))
        query = query.order_by(ticket_comments.c.id).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [comment_record(row) for row in rows]

    async def history(
        self, ticket_id: int, *, after: int = 0, limit: int = 100
    ) -> list[HistoryEntry]:
        """Oldest first, strictly after history id ``after``."""
        query = (
            ticket_history.select()
            .where(ticket_history.c.ticket_id == ticket_id)
            .where(ticket_history.c.id > after)
            .order_by(ticket_history.c.id)
            .limit(limit)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [history_record(row) for row in rows]

    async def due_for_sla(
        self,
        now: datetime,
        *,
        warn_until: datetime | None = None,
        after_id: int = 0,
        limit: int = 500,
    ) -> list[Ticket]:
        """Active tickets that may owe an SLA announcement at ``now``, by id.

        A superset, cheap to ask: a target due by ``now`` whose breach stamp is older than
        it, or due by ``warn_until`` (SlaRules.warn_horizon) whose warning stamp is older
        than it. ``SlaRules.alarms`` then decides exactly, in business time.
        """
        warn_until = warn_until if warn_until is not None else now
        first_open = sa.and_(
            tickets.c.first_response_due_at.is_not(None), tickets.c.first_responded_at.is_(None)
        )
        # A paused resolution clock (pending) owes nothing until it runs again.
        resolution = sa.and_(
            tickets.c.resolution_due_at.is_not(None), tickets.c.sla_paused_at.is_(None)
        )

        def owed(stamp: sa.ColumnElement[Any], until: datetime) -> sa.ColumnElement[bool]:
            conditions = []
            for has_target, due in (
                (first_open, tickets.c.first_response_due_at),
                (resolution, tickets.c.resolution_due_at),
            ):
                conditions.append(
                    sa.and_(has_target, due <= until, sa.or_(stamp.is_(None), stamp < due))
                )
            return sa.or_(*conditions)

        query = (
            tickets.select()
            .where(tickets.c.status.in_(_ACTIVE))
            .where(tickets.c.id > after_id)
            .where(
                sa.or_(
                    owed(tickets.c.sla_warned_at, warn_until),
                    owed(tickets.c.sla_breached_at, now),
                )
            )
            .order_by(tickets.c.id)
            .limit(limit)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [ticket_record(row) for row in rows]

    async def stamp_sla(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        kind: SlaAlarm,
        owed: Sequence[tuple[SlaTarget, datetime, datetime]],
        now: datetime,
    ) -> bool:
        """``TicketsInUnit.stamp_sla`` on a transaction the caller holds (store code and
        tests racing the watcher)."""
        return await TicketsInUnit(conn).stamp_sla(ticket_id, kind, owed, now)


class TicketsInUnit:
    """The reads and writes a ticket change makes, on one unit of work's transaction
    (``kefu.store.unit_of_work.StoreUnitOfWork.tickets``)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # -- creation -------------------------------------------------------------------------
    async def create_many(self, batch: Sequence[NewTicket]) -> list[Ticket]:
        """Insert tickets and their ``created`` history rows in bulk (``kefu.store.bulk``:
        COPY on PostgreSQL, one executemany on SQLite); ids come back in input order."""
        if not batch:
            return []
        rows = [_row(ticket) for ticket in batch]
        ids = await insert_with_ids(self._conn, tickets, TICKET_COLUMNS, rows)
        details: dict[tuple[str, str, str], dict[str, str]] = {}
        history = []  # HISTORY_COLUMNS tuples straight away (no HistoryRow per ticket)
        for ticket_id, ticket in zip(ids, batch, strict=True):
            key = (ticket.channel._value_, ticket.status._value_, ticket.priority._value_)
            detail = details.get(key)
            if detail is None:  # one dict per kind: stored once per distinct value (bulk)
                detail = details[key] = {"channel": key[0], "status": key[1], "priority": key[2]}
            history.append((ticket_id, ticket.created_at, ticket.created_by, "created", detail))
        await insert_rows(self._conn, ticket_history, HISTORY_COLUMNS, history)
        return [
            Ticket(
                id=ticket_id,
                subject=t.subject,
                body=t.body,
                status=t.status,
                priority=t.priority,
                customer_key=t.customer_key,
                assignee_id=t.assignee_id,
                queue=t.queue,
                conversation_id=t.conversation_id,
                channel=t.channel,
                created_by=t.created_by,
                created_at=t.created_at,
                updated_at=t.created_at,
                sla=t.sla,
            )
            for ticket_id, t in zip(ids, batch, strict=True)
        ]

    # -- reads ----------------------------------------------------------------------------
    async def get(self, ticket_id: int) -> Ticket | None:
        query = tickets.select().where(tickets.c.id == ticket_id)
        row = (await self._conn.execute(query)).first()
        return ticket_record(row) if row else None

    async def for_conversation(self, conversation_id: str) -> Ticket | None:
        """The oldest ticket made from a conversation, if any."""
        query = (
            tickets.select()
            .where(tickets.c.conversation_id == conversation_id)
            .order_by(tickets.c.id)
            .limit(1)
        )
        row = (await self._conn.execute(query)).first()
        return ticket_record(row) if row else None

    async def rule_assignee(self, email: str | None, role: Role | None) -> str | None:
        """Who a rule's ticket goes to (``kefu.store.assignees``), chosen in this unit so
        the choice and the ticket commit together."""
        return await rule_assignee(self._conn, email, role)

    # -- changes --------------------------------------------------------------------------
    async def lock(self, ticket_id: int) -> Ticket | None:
        """Write-lock the ticket for this transaction and read it; None if it is unknown."""
        if not await lock_row(self._conn, tickets, "id", ticket_id):
            return None
        return await self.get(ticket_id)

    async def update(self, ticket_id: int, values: Mapping[str, Any], now: datetime) -> None:
        """Set columns (table column names) and ``updated_at``."""
        await self._conn.execute(
            tickets.update().where(tickets.c.id == ticket_id).values(**values, updated_at=now)
        )

    async def add_history(self, rows: Sequence[HistoryRow]) -> None:
        if not rows:
            return
        await insert_rows(
            self._conn,
            ticket_history,
            HISTORY_COLUMNS,
            [(row.ticket_id, row.at, row.actor, row.action, _plain(row.detail)) for row in rows],
        )

    async def add_comment(
        self,
        ticket_id: int,
        *,
        author: str | None,
        author_name: str | None,
        body: str,
        internal: bool,
        now: datetime,
    ) -> TicketComment:
        values = {
            "ticket_id": ticket_id,
            "author": author,
            "author_name": author_name,
            "body": body,
            "internal": internal,
            "created_at": now,
        }
        result = await self._conn.execute(
            ticket_comments.insert().returning(ticket_comments.c.id), values
        )
        return comment_record(ValuesRow({"id": result.scalar_one(), **values}))

    async def stamp_sla(
        self,
        ticket_id: int,
        kind: SlaAlarm,
        owed: Sequence[tuple[SlaTarget, datetime, datetime]],
        now: datetime,
    ) -> bool:
        """Record that ``kind`` was announced at ``now`` for the ``owed`` (target, due,
        became-due) triples; True when this call won the right to emit the events.

        The WHERE re-checks, under the row lock the UPDATE takes, that the ticket is still
        active, each target still has that due date (the first response is still awaited,
        the resolution clock is not paused), and the stamp is older than the earliest
        moment: of several nodes checking at once, exactly one matches, and a concurrent
        priority change, reply or move to pending makes the stale announcement match
        nothing.
        """
        if not owed:
            return False
        stamp = _STAMP[kind]
        earliest = min(became_due for _, _, became_due in owed)
        query = (
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .where(tickets.c.status.in_(_ACTIVE))
            .where(sa.or_(stamp.is_(None), stamp < earliest))
        )
        for target, due, _ in owed:
            query = query.where(_DUE[target] == due)
            if target is SlaTarget.FIRST_RESPONSE:
                query = query.where(tickets.c.first_responded_at.is_(None))
            else:
                query = query.where(tickets.c.sla_paused_at.is_(None))
        result = await self._conn.execute(query.values({stamp.key: now}))
        return bool(result.rowcount)

    # -- what tickets are made from -------------------------------------------------------
    async def lock_conversation(self, conversation_id: str) -> bool:
        """Serialise ticket creation per conversation (one ticket per chat, even when two
        agents click at once); False when the conversation is unknown."""
        return await lock_row(self._conn, conversations, "id", conversation_id)

    async def lock_offline(self, offline_id: str) -> OfflineMessage | None:
        """Write-lock an offline message and read it; None if unknown."""
        if not await lock_row(self._conn, offline_messages, "id", offline_id):
            return None
        query = offline_messages.select().where(offline_messages.c.id == offline_id)
        r = (await self._conn.execute(query)).one()
        return OfflineMessage(
            r.id, r.visitor_id, r.name, r.email, r.body, r.created_at, r.ticket_id
        )

    async def link_offline(self, offline_id: str, ticket_id: int) -> bool:
        """Point the offline message at its ticket, once; False if it already had one."""
        result = await self._conn.execute(
            offline_messages.update()
            .where(offline_messages.c.id == offline_id)
            .where(offline_messages.c.ticket_id.is_(None))
            .values(ticket_id=str(ticket_id))
        )
        return bool(result.rowcount)


def _plain(detail: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-ready dict; the same object when it is one already (stored once per batch)."""
    return detail if detail is None or isinstance(detail, dict) else dict(detail)
