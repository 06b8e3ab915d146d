"""The SQL of erasing what email keeps about a person (``kefu.store.erasure`` calls it in
its own transaction, so it goes with the chat data or not at all).

A person's mail is found by address: the threads (``email_threads``) of the addresses the
erased visitors gave (their visitor rows and offline messages) or the request named,
and the threads of the tickets their offline messages became. For those tickets kefu
deletes the thread (the address and name: nothing is mailed to it any more), every mail
row of it (recipients, queued copies with the text, server replies quoting the address,
Message-IDs), and the files that came by mail (``ticket_attachments`` and their
attachment rows; the caller removes the files themselves once unreferenced). The
requester's comments stay on the ticket, like an erased chat's ticket text, with their
author name (the sender's name or address) cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.tables import (
    attachments,
    email_messages,
    email_threads,
    offline_messages,
    ticket_attachments,
    ticket_comments,
    visitors,
)

# The author key of comments made from the requester's mail (kefu.email.outbound's
# REQUESTER_KEY; the store does not import kefu.email).
REQUESTER_AUTHOR = "email:requester"


@dataclass(slots=True)
class MailErased:
    threads: int = 0
    mails: int = 0
    files: int = 0  # attachment rows of ticket files
    hashes: set[str] = field(default_factory=set)


def normalised(addresses: Iterable[str | None]) -> set[str]:
    """Addresses compared as kefu compares them: trimmed, case-insensitive."""
    return {a.strip().lower() for a in addresses if a and a.strip()}


async def addresses_of(conn: AsyncConnection, visitor_ids: Sequence[str]) -> set[str]:
    """Every address these visitors gave (their profile, their offline messages)."""
    if not visitor_ids:
        return set()
    ids = list(visitor_ids)
    given = await conn.execute(sa.select(visitors.c.email).where(visitors.c.id.in_(ids)))
    left = await conn.execute(
        sa.select(offline_messages.c.email).where(offline_messages.c.visitor_id.in_(ids))
    )
    return normalised([*given.scalars(), *left.scalars()])


async def erase_mail(
    conn: AsyncConnection, visitor_ids: Sequence[str], addresses: set[str]
) -> MailErased:
    """Delete the threads, mails and mailed files of these visitors and addresses (call
    before their offline messages are deleted: they name the tickets)."""
    ticket_ids = await _tickets(conn, visitor_ids, addresses)
    gone = MailErased()
    if not ticket_ids:
        return gone
    files = sa.select(ticket_attachments.c.attachment_id).where(
        ticket_attachments.c.ticket_id.in_(ticket_ids)
    )
    mailed = attachments.c.id.in_(files)
    gone.hashes = set((await conn.execute(sa.select(attachments.c.sha256).where(mailed))).scalars())
    gone.files = _count(await conn.execute(attachments.delete().where(mailed)))
    await conn.execute(
        ticket_attachments.delete().where(ticket_attachments.c.ticket_id.in_(ticket_ids))
    )
    gone.mails = _count(
        await conn.execute(
            email_messages.delete().where(email_messages.c.ticket_id.in_(ticket_ids))
        )
    )
    gone.threads = _count(
        await conn.execute(email_threads.delete().where(email_threads.c.ticket_id.in_(ticket_ids)))
    )
    await conn.execute(
        ticket_comments.update()
        .where(ticket_comments.c.ticket_id.in_(ticket_ids))
        .where(ticket_comments.c.author == REQUESTER_AUTHOR)
        .values(author_name=None)
    )
    return gone


async def _tickets(
    conn: AsyncConnection, visitor_ids: Sequence[str], addresses: set[str]
) -> list[int]:
    """The tickets mailed with these people: threads at their addresses, and tickets
    made from their offline messages (mailed or not yet)."""
    found: set[int] = set()
    if addresses:
        query = sa.select(email_threads.c.ticket_id).where(
            sa.func.lower(email_threads.c.address).in_(sorted(addresses))
        )
        found |= {int(t) for t in (await conn.execute(query)).scalars()}
    if visitor_ids:
        query = (
            sa.select(offline_messages.c.ticket_id)
            .where(offline_messages.c.visitor_id.in_(list(visitor_ids)))
            .where(offline_messages.c.ticket_id.is_not(None))
        )
        found |= {int(t) for t in (await conn.execute(query)).scalars() if str(t).isdigit()}
    return sorted(found)


def _count(result: sa.CursorResult[object] | object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
