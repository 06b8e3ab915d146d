"""Attachment metadata. The bytes live on disk, content-addressed (``kefu.attachments``);
this table says who uploaded what, under which name, and which message carries it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kefu.domain.ids import new_id
from kefu.domain.models import Attachment
from kefu.domain.upload_quota import WINDOW, Quota, Usage, check
from kefu.store.database import Database
from kefu.store.tables import attachments, ticket_attachments

# pg_advisory_xact_lock(int4, int4) class: "up" (uploads) + "qt" (quota); the second key
# is the hash of the quota's scope and key.
QUOTA_LOCK = 0x75707174
# pg_try_advisory_xact_lock key: "kefu" + "swep", one node sweeps unsent uploads at a time.
SWEEP_LOCK = 0x6B656675_73776570


def attachment_from_row(row: Any) -> Attachment:
    return Attachment(
        id=row.id,
        sha256=row.sha256,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        uploader=row.uploader,
        created_at=row.created_at,
        conversation_id=row.conversation_id,
        message_id=row.message_id,
    )


class AttachmentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        sha256: str,
        name: str,
        content_type: str,
        size: int,
        uploader: str,
        now: datetime,
        uploader_ip: str | None = None,
        quotas: Sequence[Quota] = (),
    ) -> Attachment:
        """Insert the row, if ``quotas`` allow one more file of ``size`` bytes
        (:class:`QuotaExceeded` otherwise, and nothing is inserted).

        The count and the insert share one transaction, taken one at a time per quota key
        (SQLite: its write lock; PostgreSQL: an advisory lock per key), so parallel
        uploads cannot all pass on the same count.
        """
        attachment = Attachment(
            id=new_id("att"),
            sha256=sha256,
            name=name,
            content_type=content_type,
            size=size,
            uploader=uploader,
            created_at=now,
        )

        def insert(conn: Connection) -> None:
            for quota in quotas:
                if conn.dialect.name == "postgresql":
                    key = sa.func.hashtext(f"{quota.scope}:{quota.key}")
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(QUOTA_LOCK, key)))
                check(quota, _usage(conn, quota, now), size, now)
            conn.execute(
                attachments.insert().values(
                    id=attachment.id,
                    sha256=sha256,
                    name=name,
                    content_type=content_type,
                    size=size,
                    uploader=uploader,
                    uploader_ip=uploader_ip,
                    created_at=now,
                )
            )

        await self._db.run_in_transaction(insert)
        return attachment

    async def check_quotas(self, quotas: Sequence[Quota], size: int, now: datetime) -> None:
        """The same check as :meth:`create`, without a lock: refuse early, before a body
        is read, what would be refused at the end anyway."""
        if quotas:
            async with self._db.connect() as conn:
                await conn.run_sync(_check_all, quotas, size, now)

    async def delete(self, attachment_id: str) -> None:
        async with self._db.begin() as conn:
            await conn.execute(attachments.delete().where(attachments.c.id == attachment_id))

    async def get(self, attachment_id: str) -> Attachment | None:
        query = attachments.select().where(attachments.c.id == attachment_id)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return attachment_from_row(row) if row else None

    async def many(self, ids: Sequence[str]) -> list[Attachment]:
        if not ids:
            return []
        query = attachments.select().where(attachments.c.id.in_(list(ids)))
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [attachment_from_row(row) for row in rows]

    async def claim(self, ids: Sequence[str], uploader: str, now: datetime) -> int:
        """Mark unsent attachments of ``uploader`` as named by a message being sent, so
        the unsent-upload sweep spares them; how many were still there to mark."""
        query = (
            attachments.update()
            .where(attachments.c.id.in_(list(ids)))
            .where(attachments.c.uploader == uploader)
            .where(attachments.c.message_id.is_(None))
            .values(claimed_at=now)
        )
        async with self._db.begin() as conn:
            result = await conn.execute(query)
        return int(result.rowcount or 0)

    async def link(
        self, ids: Sequence[str], uploader: str, conversation_id: str, message_id: int
    ) -> None:
        """Bind unsent attachments of ``uploader`` to the message that carries them."""
        query = (
            attachments.update()
            .where(attachments.c.id.in_(list(ids)))
            .where(attachments.c.uploader == uploader)
            .where(attachments.c.message_id.is_(None))
            .values(conversation_id=conversation_id, message_id=message_id)
        )
        async with self._db.begin() as conn:
            await conn.execute(query)

    async def add_to_ticket(self, attachment_id: str, ticket_id: int) -> None:
        """A file that belongs to a ticket, not to one of its comments (a department
        system's upload); kept with the ticket like an inbound mail's files."""
        async with self._db.begin() as conn:
            await conn.execute(
                ticket_attachments.insert().values(
                    attachment_id=attachment_id, ticket_id=ticket_id, comment_id=None
                )
            )

    async def of_ticket(self, ticket_id: int) -> list[str]:
        """The ticket's files: its comments' in comment order, then the ticket's own (by
        upload time), the same order on both stores."""
        query = (
            sa.select(ticket_attachments.c.attachment_id)
            .join(attachments, attachments.c.id == ticket_attachments.c.attachment_id)
            .where(ticket_attachments.c.ticket_id == ticket_id)
            .order_by(
                ticket_attachments.c.comment_id.asc().nulls_last(),
                attachments.c.created_at,
                ticket_attachments.c.attachment_id,
            )
        )
        async with self._db.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def ticket_of(self, attachment_id: str) -> int | None:
        query = sa.select(ticket_attachments.c.ticket_id).where(
            ticket_attachments.c.attachment_id == attachment_id
        )
        async with self._db.connect() as conn:
            found = (await conn.execute(query)).scalar()
        return int(found) if found is not None else None

    async def delete_unsent(self, cutoff: datetime, limit: int) -> tuple[int, set[str]] | None:
        """Delete up to ``limit`` attachments uploaded before ``cutoff`` that no message
        carries and none claimed since ``cutoff``; their count and contents.

        None when another node is sweeping right now (PostgreSQL: a try-lock, so nodes
        take turns instead of queueing). The claim and the link re-check the same
        conditions under the row's lock, so a send racing this either claims first (and
        the row stays) or finds the row gone (and the send is refused, nothing stored).
        """
        unsent = (
            attachments.c.message_id.is_(None)
            & attachments.c.conversation_id.is_(None)
            # A ticket's files (an inbound mail's attachments) are kept with the ticket.
            & attachments.c.id.not_in(sa.select(ticket_attachments.c.attachment_id))
            & (attachments.c.created_at < cutoff)
            & (attachments.c.claimed_at.is_(None) | (attachments.c.claimed_at < cutoff))
        )
        async with self._db.begin() as conn:
            if conn.dialect.name == "postgresql":
                locked = await conn.execute(
                    sa.select(sa.func.pg_try_advisory_xact_lock(SWEEP_LOCK))
                )
                if not locked.scalar():
                    return None
            found = await conn.execute(
                sa.select(attachments.c.id, attachments.c.sha256)
                .where(unsent)
                .order_by(attachments.c.created_at)
                .limit(limit)
            )
            rows = found.all()
            if not rows:
                return 0, set()
            result = await conn.execute(
                attachments.delete()
                .where(attachments.c.id.in_([row.id for row in rows]))
                .where(unsent)
            )
        return int(result.rowcount or 0), {row.sha256 for row in rows}

    async def referenced(self, hashes: set[str]) -> set[str]:
        """Which of these contents some attachment row still points at."""
        if not hashes:
            return set()
        query = (
            sa.select(attachments.c.sha256)
            .where(attachments.c.sha256.in_(sorted(hashes)))
            .distinct()
        )
        async with self._db.connect() as conn:
            return set((await conn.execute(query)).scalars())


def _usage(conn: Connection, quota: Quota, now: datetime) -> Usage:
    who = attachments.c.uploader_ip if quota.scope == "address" else attachments.c.uploader
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(attachments.c.size), 0),
            sa.func.min(attachments.c.created_at),
        )
        .where(who == quota.key)
        .where(attachments.c.created_at > now - WINDOW)
    ).one()
    oldest = row[2]
    if isinstance(oldest, str):  # SQLite returns an aggregate's timestamp as text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return Usage(files=int(row[0]), bytes=int(row[1]), oldest=oldest)


def _check_all(conn: Connection, quotas: Sequence[Quota], size: int, now: datetime) -> None:
    for quota in quotas:
        check(quota, _usage(conn, quota, now), size, now)
