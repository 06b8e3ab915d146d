"""The SQL of erasing what kefu keeps about visitors (``kefu.privacy.erasure`` says what
goes and what stays, and removes the files once these rows are gone).

Everything for one request, or one retention chunk, is deleted in one transaction, so a
failure deletes nothing. Several nodes may run retention at once: on PostgreSQL they
queue on an advisory lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.conversation import ConversationStatus
from kefu.store.attachments import AttachmentRepository
from kefu.store.database import Database
from kefu.store.email_erasure import addresses_of, erase_mail, normalised
from kefu.store.tables import (
    attachments,
    conversation_labels,
    conversations,
    messages,
    offline_messages,
    ticket_attachments,
    tickets,
    visitors,
)

# pg_advisory_xact_lock key: "kefu" + "erase", so it is easy to spot in pg_locks.
ERASURE_LOCK = 0x6B656675_65726173
# Conversations deleted per transaction by retention: bounded locks and undo, however
# far behind a newly configured retention period starts.
RETENTION_CHUNK = 500


@dataclass(slots=True)
class Erased:
    """What one erasure or retention run deleted (counts only: the audit log keeps them)."""

    visitors: int = 0
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    files: int = 0
    offline_messages: int = 0
    tickets_unlinked: int = 0
    email_threads: int = 0
    email_messages: int = 0
    ticket_files: int = 0
    hashes: set[str] = field(default_factory=set)  # attachment contents to check for files

    def add(self, other: Erased) -> None:
        for name in COUNTED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.hashes |= other.hashes

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTED}


COUNTED = (
    "visitors",
    "conversations",
    "messages",
    "attachments",
    "files",
    "offline_messages",
    "tickets_unlinked",
    "email_threads",
    "email_messages",
    "ticket_files",
)


class ErasureRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def visitors_matching(
        self,
        *,
        visitor_id: str | None = None,
        email: str | None = None,
        external_id: str | None = None,
    ) -> list[str]:
        """Ids of the visitors a request names (an email may have made several: those
        that gave it, in their details or in an offline message)."""
        query = sa.select(visitors.c.id)
        if visitor_id is not None:
            query = query.where(visitors.c.id == visitor_id)
        if email is not None:
            address = email.strip().lower()
            left_it = sa.select(offline_messages.c.visitor_id).where(
                sa.func.lower(offline_messages.c.email) == address
            )
            query = query.where(
                (sa.func.lower(visitors.c.email) == address) | visitors.c.id.in_(left_it)
            )
        if external_id is not None:
            query = query.where(visitors.c.external_id == external_id)
        async with self._db.connect() as conn:
            return list((await conn.execute(query.order_by(visitors.c.id))).scalars())

    async def open_conversations(self, visitor_ids: Sequence[str]) -> list[str]:
        """Their conversations not yet closed: closed first, so agents see them end."""
        if not visitor_ids:
            return []
        query = (
            sa.select(conversations.c.id)
            .where(conversations.c.visitor_id.in_(list(visitor_ids)))
            .where(conversations.c.status != ConversationStatus.CLOSED.value)
        )
        async with self._db.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def erase_visitors(
        self, visitor_ids: Sequence[str], addresses: Sequence[str] = ()
    ) -> Erased:
        """Every row about these visitors, theirs included, and the mail threads of
        the addresses they gave or ``addresses`` names (someone who only ever mailed is
        no visitor); ``hashes`` names the contents whose files may now be unreferenced."""
        if not visitor_ids and not normalised(addresses):
            return Erased()
        ids = list(visitor_ids)
        async with self._db.begin() as conn:
            await self._lock(conn)
            mail = await erase_mail(
                conn, ids, normalised(addresses) | await addresses_of(conn, ids)
            )
            owned = sa.select(conversations.c.id).where(conversations.c.visitor_id.in_(ids))
            gone = await self._delete_conversations(
                conn,
                list((await conn.execute(owned)).scalars()),
                uploaders=[f"visitor:{visitor_id}" for visitor_id in ids],
            )
            result = await conn.execute(
                offline_messages.delete().where(offline_messages.c.visitor_id.in_(ids))
            )
            gone.offline_messages += _count(result)
            result = await conn.execute(visitors.delete().where(visitors.c.id.in_(ids)))
            gone.visitors += _count(result)
        gone.email_threads, gone.email_messages = mail.threads, mail.mails
        gone.ticket_files = mail.files
        gone.hashes |= mail.hashes
        return gone

    async def erase_older_than(self, cutoff: datetime) -> Erased:
        """Retention's rows: conversations closed before ``cutoff`` (a chunk per
        transaction), offline messages and never-sent uploads from before it, and visitors
        from before it who have nothing left."""
        total = Erased()
        while True:
            async with self._db.begin() as conn:
                await self._lock(conn)
                old = (
                    sa.select(conversations.c.id)
                    .where(conversations.c.closed_at < cutoff)
                    .order_by(conversations.c.closed_at)
                    .limit(RETENTION_CHUNK)
                )
                chunk = list((await conn.execute(old)).scalars())
                total.add(await self._delete_conversations(conn, chunk, uploaders=[]))
            if len(chunk) < RETENTION_CHUNK:
                break
        async with self._db.begin() as conn:
            await self._lock(conn)
            unsent = (
                attachments.c.conversation_id.is_(None)
                # A ticket's files (an inbound mail's) stay with the ticket, as the
                # upload sweep keeps them (AttachmentRepository.delete_unsent).
                & attachments.c.id.not_in(sa.select(ticket_attachments.c.attachment_id))
                & (attachments.c.created_at < cutoff)
            )
            total.hashes |= set(
                (await conn.execute(sa.select(attachments.c.sha256).where(unsent))).scalars()
            )
            total.attachments += _count(await conn.execute(attachments.delete().where(unsent)))
            total.offline_messages += _count(
                await conn.execute(
                    offline_messages.delete().where(offline_messages.c.created_at < cutoff)
                )
            )
            has_conversation = sa.exists().where(conversations.c.visitor_id == visitors.c.id)
            has_offline = sa.exists().where(offline_messages.c.visitor_id == visitors.c.id)
            total.visitors += _count(
                await conn.execute(
                    visitors.delete()
                    .where(visitors.c.created_at < cutoff)
                    .where(~has_conversation)
                    .where(~has_offline)
                )
            )
        return total

    async def _lock(self, conn: AsyncConnection) -> None:
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ERASURE_LOCK)))

    async def _delete_conversations(
        self, conn: AsyncConnection, ids: list[str], *, uploaders: list[str]
    ) -> Erased:
        gone = Erased()
        owned: sa.ColumnElement[bool] = attachments.c.conversation_id.in_(ids)
        if uploaders:  # also what they uploaded and never sent
            owned = sa.or_(owned, attachments.c.uploader.in_(uploaders))
        if not ids and not uploaders:
            return gone
        found = await conn.execute(sa.select(attachments.c.sha256).where(owned))
        gone.hashes = set(found.scalars())
        gone.attachments = _count(await conn.execute(attachments.delete().where(owned)))
        if not ids:
            return gone
        gone.messages = _count(
            await conn.execute(messages.delete().where(messages.c.conversation_id.in_(ids)))
        )
        gone.tickets_unlinked = _count(
            await conn.execute(
                tickets.update()
                .where(tickets.c.conversation_id.in_(ids))
                .values(conversation_id=None)
            )
        )
        await conn.execute(
            conversation_labels.delete().where(conversation_labels.c.conversation_id.in_(ids))
        )
        gone.conversations = _count(
            await conn.execute(conversations.delete().where(conversations.c.id.in_(ids)))
        )
        return gone

    async def referenced(self, hashes: set[str]) -> set[str]:
        """Those of ``hashes`` some attachment row still points at (the upload sweep's
        own question, asked the same way)."""
        return await AttachmentRepository(self._db).referenced(hashes)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
