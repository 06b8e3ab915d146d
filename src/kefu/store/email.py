"""Email threads, their messages (the outbound outbox) and ticket files in the store.

Outgoing mail is a row written in the transaction of the comment it carries: it exists
exactly when the comment committed, survives a restart, and any node may send it. A node
*claims* due rows by moving ``next_attempt_at`` one lease ahead in the statement that
selects them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer), as the
webhook deliveries do: a node that dies mid-send lets the lease run out, and the mail is
sent again (at least once; the Message-ID lets the receiving side drop a duplicate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.database import Database
from kefu.store.tables import email_messages as messages
from kefu.store.tables import email_threads as threads
from kefu.store.tables import offline_messages, ticket_attachments, visitors

PENDING, SENT, FAILED, RECEIVED = "pending", "sent", "failed", "received"
MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Thread:
    ticket_id: int
    address: str
    name: str | None
    locale: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class OfflineRequester:
    """Who left the offline message a ticket was made from, and on which site."""

    email: str
    name: str | None
    site_id: str | None


@dataclass(frozen=True, slots=True)
class ClaimedMail:
    id: int
    ticket_id: int
    recipient: str
    raw: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class MailRecord:
    """A thread's message as an operator (or a test) sees it."""

    id: int
    ticket_id: int
    message_id: str
    direction: str
    comment_id: int | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


# ---- in the caller's unit of work (its transaction) -------------------------------------


class MailInUnit:
    """Threads, queued and received mails and ticket files, on one unit of work's
    transaction (``StoreUnitOfWork.mail``): a mail row exists exactly when the comment
    or ticket it belongs to committed."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def thread(self, ticket_id: int) -> Thread | None:
        query = threads.select().where(threads.c.ticket_id == ticket_id)
        row = (await self._conn.execute(query)).first()
        if row is None:
            return None
        return Thread(row.ticket_id, row.address, row.name, row.locale, row.team)

    async def start_thread(self, found: Thread, now: datetime) -> None:
        """Record the ticket's requester; a thread already there is kept as it is."""
        dialect = self._conn.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._conn.execute(
            insert(threads)
            .values(
                ticket_id=found.ticket_id,
                address=found.address,
                name=found.name,
                locale=found.locale,
                team=found.team,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[threads.c.ticket_id])
        )

    async def offline_requester(self, ticket_id: int) -> OfflineRequester | None:
        """The address left in the offline message this ticket was made from, if any."""
        query = (
            sa.select(offline_messages.c.email, offline_messages.c.name, visitors.c.site_id)
            .join(visitors, visitors.c.id == offline_messages.c.visitor_id)
            .where(offline_messages.c.ticket_id == str(ticket_id))
            .where(offline_messages.c.email.is_not(None))
            .limit(1)
        )
        row = (await self._conn.execute(query)).first()
        return OfflineRequester(row.email, row.name, row.site_id) if row else None

    async def message_ids(self, ticket_id: int) -> list[str]:
        """The thread's Message-IDs, oldest first: its first and its latest few."""
        by_id = messages.c.id
        where = messages.c.ticket_id == ticket_id
        first = (
            await self._conn.execute(
                sa.select(messages.c.message_id).where(where).order_by(by_id).limit(1)
            )
        ).scalars()
        latest = (
            await self._conn.execute(
                sa.select(messages.c.message_id).where(where).order_by(by_id.desc()).limit(10)
            )
        ).scalars()
        ordered = [*first, *reversed(list(latest))]
        return list(dict.fromkeys(ordered))

    async def enqueue(
        self,
        *,
        ticket_id: int,
        comment_id: int,
        message_id: str,
        recipient: str,
        raw: bytes,
        now: datetime,
    ) -> None:
        await self._conn.execute(
            messages.insert().values(
                ticket_id=ticket_id,
                message_id=message_id,
                direction="out",
                comment_id=comment_id,
                status=PENDING,
                recipient=recipient,
                raw=raw,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    async def record_inbound(
        self,
        ticket_id: int,
        message_id: str,
        comment_id: int | None,
        now: datetime,
    ) -> bool:
        """Remember a mail taken in; False (and nothing written) if it was taken before."""
        dialect = self._conn.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        result = await self._conn.execute(
            insert(messages)
            .values(
                ticket_id=ticket_id,
                message_id=message_id,
                direction="in",
                comment_id=comment_id,
                status=RECEIVED,
                attempts=0,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[messages.c.message_id])
        )
        return result.rowcount == 1

    async def attach(
        self, ticket_id: int, comment_id: int | None, attachment_ids: Sequence[str]
    ) -> None:
        if attachment_ids:
            await self._conn.execute(
                ticket_attachments.insert(),
                [
                    {"attachment_id": a, "ticket_id": ticket_id, "comment_id": comment_id}
                    for a in attachment_ids
                ],
            )


# ---- on their own connections ------------------------------------------------------------


class EmailRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def ticket_of(self, ids: Sequence[str]) -> int | None:
        """The ticket whose thread holds one of these Message-IDs (the latest given wins)."""
        if not ids:
            return None
        query = sa.select(messages.c.message_id, messages.c.ticket_id).where(
            messages.c.message_id.in_(list(ids))
        )
        async with self._db.connect() as conn:
            found = {row.message_id: row.ticket_id for row in await conn.execute(query)}
        for message_id in reversed(ids):
            if message_id in found:
                return int(found[message_id])
        return None

    async def seen(self, message_id: str) -> bool:
        query = sa.select(messages.c.id).where(messages.c.message_id == message_id)
        async with self._db.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def thread(self, ticket_id: int) -> Thread | None:
        async with self._db.connect() as conn:
            return await MailInUnit(conn).thread(ticket_id)

    async def requester(self, ticket_id: int) -> str | None:
        """The address the ticket is answered at: its thread's, else (no mail sent
        yet) the one its offline message left."""
        async with self._db.connect() as conn:
            found = await MailInUnit(conn).thread(ticket_id)
            if found is not None:
                return found.address
            offline = await MailInUnit(conn).offline_requester(ticket_id)
        return offline.email.lower() if offline is not None else None

    async def next_due(self) -> datetime | None:
        query = sa.select(sa.func.min(messages.c.next_attempt_at)).where(
            messages.c.status == PENDING
        )
        async with self._db.connect() as conn:
            value: datetime | None = (await conn.execute(query)).scalar()
        return value

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedMail]:
        due = (
            sa.select(messages.c.id)
            .where(messages.c.status == PENDING, messages.c.next_attempt_at <= now)
            .order_by(messages.c.next_attempt_at, messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            messages.update()
            .where(messages.c.id.in_(due))
            .values(next_attempt_at=lease_until)
            .returning(
                messages.c.id,
                messages.c.ticket_id,
                messages.c.recipient,
                messages.c.raw,
                messages.c.attempts,
            )
        )
        async with self._db.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return [ClaimedMail(r.id, r.ticket_id, r.recipient, bytes(r.raw), r.attempts) for r in rows]

    async def sent(self, mail_id: int, now: datetime) -> None:
        """Sent: the copy to send is dropped, the Message-ID stays for threading."""
        async with self._db.begin() as conn:
            await conn.execute(
                messages.update()
                .where(messages.c.id == mail_id, messages.c.status == PENDING)
                .values(
                    status=SENT,
                    attempts=messages.c.attempts + 1,
                    next_attempt_at=None,
                    last_error=None,
                    raw=None,
                    sent_at=now,
                )
            )

    async def failed(self, mail_id: int, error: str, retry_at: datetime | None) -> None:
        """A failed attempt; ``retry_at`` None: no attempt left (failed for good)."""
        async with self._db.begin() as conn:
            await conn.execute(
                messages.update()
                .where(messages.c.id == mail_id, messages.c.status == PENDING)
                .values(
                    status=PENDING if retry_at is not None else FAILED,
                    attempts=messages.c.attempts + 1,
                    next_attempt_at=retry_at,
                    last_error=error[:MAX_ERROR_CHARS],
                )
            )

    async def mails(self, ticket_id: int) -> list[MailRecord]:
        query = messages.select().where(messages.c.ticket_id == ticket_id).order_by(messages.c.id)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            MailRecord(
                r.id,
                r.ticket_id,
                r.message_id,
                r.direction,
                r.comment_id,
                r.status,
                r.attempts,
                r.last_error,
                r.created_at,
                r.sent_at,
            )
            for r in rows
        ]

    async def attachments(self, ticket_id: int) -> list[tuple[str, int | None]]:
        """The ticket's files: (attachment id, comment id), in the order they came."""
        query = (
            sa.select(ticket_attachments.c.attachment_id, ticket_attachments.c.comment_id)
            .where(ticket_attachments.c.ticket_id == ticket_id)
            .order_by(ticket_attachments.c.comment_id, ticket_attachments.c.attachment_id)
        )
        async with self._db.connect() as conn:
            return [(r.attachment_id, r.comment_id) for r in await conn.execute(query)]
