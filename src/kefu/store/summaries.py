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
    BUDGET,
    CHUNK,
    NO_FILTERS,
    Filters,
    Keyset,
    among,
    narrowed,
    newest_matches,
)
from kefu.store.conversations import OPEN_STATUSES, conversation_record, filtered
from kefu.store.customer_of import CONVERSATION_CUSTOMER, WITH_VISITOR
from kefu.store.database import AsyncConnection, Database
from kefu.store.labels import LabelRepository
from kefu.store.search_walk import Narrowing, walk
from kefu.store.tables import conversations, messages, visitors

_last = messages.alias("last_message")
_unread = messages.alias("unread_message")
_words = messages.alias("last_words")

# The row's preview: the last thing a person said (visitor or agent, not a private note),
# not the bot's welcome or offline notice that follows a visitor's first message. Walks
# the (conversation_id, id) index back from the newest: bot lines are few, so it stops at
# once. A conversation with no such message falls back to its last message.
_LAST_WORDS = (
    sa.select(_words.c.id)
    .where(_words.c.conversation_id == conversations.c.id)
    .where(_words.c.sender_kind.in_((SenderKind.VISITOR.value, SenderKind.AGENT.value)))
    .where(_words.c.internal.is_(sa.false()))
    .order_by(_words.c.id.desc())
    .limit(1)
    .scalar_subquery()
)

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
    _last.c.id.label("last_id"),
    _last.c.sender_kind.label("last_sender_kind"),
    _last.c.sender_id.label("last_sender_id"),
    _last.c.sender_name.label("last_sender_name"),
    _last.c.body.label("last_body"),
    _last.c.created_at.label("last_created_at"),
).select_from(
    WITH_VISITOR.outerjoin(
        _last, _last.c.id == sa.func.coalesce(_LAST_WORDS, conversations.c.last_message_id)
    )
)


def _passes(row: Any, status: str | None, assignee_id: str | None, visitor_id: str | None) -> bool:
    """``kefu.store.conversations.filtered``'s status, assignee and visitor, on a row."""
    if status == "open":
        if row.status not in OPEN_STATUSES:
            return False
    elif status is not None and row.status != status:
        return False
    if assignee_id is not None and row.assignee_id != assignee_id:
        return False
    return visitor_id is None or row.visitor_id == visitor_id


def _keyset(row: Any) -> Keyset:
    return (row.updated_at, row.id)


def _summary(row: Any) -> ConversationSummary:
    record = conversation_record(row)
    last = None
    if row.last_id is not None and row.last_sender_kind is not None:
        last = Message(
            id=row.last_id,
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
        before: Keyset | int | None = None,
        limit: int = 50,
        filters: Filters = NO_FILTERS,
        visitor_id: str | None = None,
        chunk: int = CHUNK,
        budget: int = BUDGET,
    ) -> tuple[list[ConversationSummary], Keyset | int | None]:
        """Newest activity first, or with a query (``filters.phrases``) newest match first
        (kefu.store.conversation_search). ``before`` is where the page starts: the
        (updated_at, id) of the last item seen, or a search's match key. Returns the page
        and where the next one starts (None: nothing after it). ``chunk`` and ``budget``
        bound a search's index reads (tests make them small)."""
        if not filters.phrases:
            if isinstance(before, int):
                raise ValueError("a search key pages a search only")
            query = narrowed(
                filtered(_SELECT, status, assignee_id, before, visitor_id=visitor_id), filters
            )
            async with self._db.connect() as conn:
                rows = (await conn.execute(query.limit(limit))).all()
            after = _keyset(rows[-1]) if len(rows) == limit else None
            return await self._labelled([_summary(row) for row in rows]), after
        if before is not None and not isinstance(before, int):
            raise ValueError("a search is paged by its own key")

        narrowing = Narrowing.of(status, assignee_id, visitor_id, filters)
        postgres = self._db.dialect == "postgresql"
        await self._db.search_caught_up()  # SQLite indexes behind the chat commit

        async def keep(conn: AsyncConnection, candidates: list[str]) -> set[str]:
            if narrowing is None:
                return set(candidates)  # every conversation passes: no query
            # The candidates by primary key, status and assignee checked here: given the
            # status as a parameter, SQLite chose the status index and scanned every
            # closed conversation per call (31 s for a page of closed ones).
            query = narrowed(
                sa.select(
                    conversations.c.id, conversations.c.status, conversations.c.assignee_id,
                    conversations.c.visitor_id,
                ).where(among(conversations.c.id, candidates, postgres)),
                filters,
            )  # fmt: skip
            return {
                row.id
                for row in await conn.execute(query)
                if _passes(row, status, assignee_id, visitor_id)
            }

        # One connection for the whole page, and on PostgreSQL no transaction around
        # its reads (each statement has its own snapshot either way, at read
        # committed): on a loaded host every round trip (BEGIN, ROLLBACK, a pool
        # checkout's ping) costs milliseconds of waiting for the server's turn.
        async with self._db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            found = await newest_matches(
                conn,
                filters.phrases,
                keep,
                below=before,
                limit=limit,
                chunk=chunk,
                budget=budget,
                walkable=narrowing is not None,
            )
            if found is None:  # the filters pass few of the newest matches: walk them
                found = await walk(
                    conn, filters.phrases, narrowing or Narrowing(), below=before, limit=limit
                )
            rows = []
            if found.ids:
                query = _SELECT.where(among(conversations.c.id, found.ids, postgres))
                by_id = {row.id: row for row in (await conn.execute(query)).all()}
                rows = [by_id[c] for c in found.ids if c in by_id]
            summaries = [_summary(row) for row in rows]
            return await self._labelled(summaries, conn), found.after

    async def _labelled(
        self, found: list[ConversationSummary], conn: AsyncConnection | None = None
    ) -> list[ConversationSummary]:
        """The page's labels in one more query (a join would repeat every row per label)."""
        labels = await self._labels.of([summary.record.id for summary in found], conn)
        return [
            dataclasses.replace(summary, labels=labels[summary.record.id])
            if summary.record.id in labels
            else summary
            for summary in found
        ]
