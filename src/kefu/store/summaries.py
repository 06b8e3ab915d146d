"""The agent console's conversation list: each conversation with its visitor, its unread
count and its last message, in one query whatever the page size.

A list of 50 rows must not cost 150 queries: the visitor and the last message are joined,
and the unread count is a correlated count over the (conversation_id, id) index, bounded
by the agent side's read marker.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from kefu.domain.models import ConversationSummary, Message, Sender, SenderKind
from kefu.store.conversation_search import (
    FEW,
    NO_FILTERS,
    WALK,
    Filters,
    Keyset,
    narrowed,
    text_match,
)
from kefu.store.conversations import conversation_record, filtered
from kefu.store.customer_of import CONVERSATION_CUSTOMER, WITH_VISITOR
from kefu.store.database import Database
from kefu.store.labels import LabelRepository
from kefu.store.tables import conversations, messages, visitors

_last = messages.alias("last_message")
_unread = messages.alias("unread_message")

_UNREAD = (
    sa.select(sa.func.count())
    .select_from(_unread)
    .where(_unread.c.conversation_id == conversations.c.id)
    .where(_unread.c.sender_kind == SenderKind.VISITOR.value)
    .where(_unread.c.id > sa.func.coalesce(conversations.c.agent_read_id, 0))
    .scalar_subquery()
)

_SELECT = sa.select(
    conversations,
    visitors.c.name.label("visitor_name"),
    visitors.c.email.label("visitor_email"),
    CONVERSATION_CUSTOMER.label("customer"),
    _UNREAD.label("unread"),
    _last.c.sender_kind.label("last_sender_kind"),
    _last.c.sender_id.label("last_sender_id"),
    _last.c.sender_name.label("last_sender_name"),
    _last.c.body.label("last_body"),
    _last.c.created_at.label("last_created_at"),
).select_from(WITH_VISITOR.outerjoin(_last, _last.c.id == conversations.c.last_message_id))


def _keyset(row: Any) -> Keyset:
    return (row.updated_at, row.id)


def _summary(row: Any) -> ConversationSummary:
    record = conversation_record(row)
    last = None
    if record.last_message_id is not None and row.last_sender_kind is not None:
        last = Message(
            id=record.last_message_id,
            conversation_id=record.id,
            sender=Sender(
                SenderKind(row.last_sender_kind), row.last_sender_id, row.last_sender_name
            ),
            body=row.last_body,
            created_at=row.last_created_at,
        )
    return ConversationSummary(
        record=record,
        visitor_name=row.visitor_name,
        visitor_email=row.visitor_email,
        unread=int(row.unread or 0),
        last_message=last,
        customer_key=row.customer,
        customer_linked=row.customer_key is not None,
    )


class ConversationSummaries:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._labels = LabelRepository(db)

    async def get(self, conversation_id: str) -> ConversationSummary | None:
        query = _SELECT.where(conversations.c.id == conversation_id)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return (await self._labelled([_summary(row)]))[0]

    async def search(
        self,
        *,
        status: str | None,
        assignee_id: str | None,
        before: Keyset | None = None,
        limit: int = 50,
        filters: Filters = NO_FILTERS,
        visitor_id: str | None = None,
        few: int = FEW,
        walk: int = WALK,
    ) -> tuple[list[ConversationSummary], Keyset | None]:
        """Newest activity first; ``before`` is the (updated_at, id) of the last item seen.
        Returns the page and where the next one starts (None: nothing after it). ``few``
        and ``walk`` are kefu.store.conversation_search's bounds (tests make them small)."""
        query = narrowed(
            filtered(_SELECT, status, assignee_id, before, visitor_id=visitor_id), filters
        )
        after: Keyset | None
        async with self._db.connect() as conn:
            if not filters.phrases:
                rows = (await conn.execute(query.limit(limit))).all()
                after = _keyset(rows[-1]) if len(rows) == limit else None
                return await self._labelled([_summary(row) for row in rows]), after
            match = await text_match(conn, filters.phrases, few)
            if not match.walk:
                rows = (await conn.execute(query.where(match.condition).limit(limit))).all()
                after = _keyset(rows[-1]) if len(rows) == limit else None
                return await self._labelled([_summary(row) for row in rows]), after
            window = (
                narrowed(
                    filtered(
                        sa.select(conversations.c.id, conversations.c.updated_at),
                        status,
                        assignee_id,
                        before,
                        visitor_id=visitor_id,
                    ),
                    filters,
                )
                .limit(walk)
                .subquery()
            )
            walked = query.where(conversations.c.id.in_(sa.select(window.c.id)))
            rows = (await conn.execute(walked.where(match.condition).limit(limit))).all()
            if len(rows) == limit:
                after = _keyset(rows[-1])
            else:
                # The walk's last conversation, if it walked all ``walk``: the next page
                # goes on from there.
                edge = (
                    await conn.execute(
                        sa.select(window.c.updated_at, window.c.id)
                        .order_by(window.c.updated_at.desc(), window.c.id.desc())
                        .offset(walk - 1)
                        .limit(1)
                    )
                ).first()
                after = (edge[0], edge[1]) if edge is not None else None
        return await self._labelled([_summary(row) for row in rows]), after

    async def _labelled(self, found: list[ConversationSummary]) -> list[ConversationSummary]:
        """The page's labels in one more query (a join would repeat every row per label)."""
        labels = await self._labels.of([summary.record.id for summary in found])
        return [
            dataclasses.replace(summary, labels=labels[summary.record.id])
            if summary.record.id in labels
            else summary
            for summary in found
        ]
