"""Which conversations a list asks for: the filters, and ``q`` over the search index.

A conversation matches ``q`` when one of its messages (private notes included: only
agents search) or its visitor's name or email holds every phrase of the query. The list
stays ordered by latest activity, which no text index knows, so the match is found in
one of two ways, whichever is cheap for this query:

1. **Few matches** (the usual case: a name, an order number, a rare word): the index
   gives every matching message's conversation and every matching visitor, at most
   ``FEW`` of each; the page is then an ordinary keyset query over those ids.
2. **Many matches** (a word in every tenth message): walking conversations newest first
   and asking the index about each one finds a page quickly. The walk is bounded
   (``WALK``); when it ends before the page is full, ``next`` is where it stopped, so a
   page may hold fewer items than asked while ``next`` is set.

Both are measured by ``bench/search.py`` over 1,000,000 messages (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.search_text import Phrase, fts5_match, tsquery_literal
from kefu.store.tables import conversation_labels, conversations, visitors

# Matches the index may return before the query counts as "many" (path 2).
FEW = 2_000
# Conversations path 2 looks at per page at most: bounds a page's time.
WALK = 400

Keyset = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's narrowing besides status and assignee (``filtered`` has those)."""

    label: str | None = None
    customer_key: str | None = None
    phrases: Sequence[Phrase] = ()


NO_FILTERS = Filters()


def narrowed(query: sa.Select[Any], filters: Filters) -> sa.Select[Any]:
    if filters.label is not None:
        query = query.where(
            sa.exists()
            .where(conversation_labels.c.conversation_id == conversations.c.id)
            .where(conversation_labels.c.label == filters.label)
        )
    if filters.customer_key is not None:
        query = query.where(conversations.c.id.in_(customer_conversations(filters.customer_key)))
    return query


def customer_conversations(key: str) -> sa.CompoundSelect[Any]:
    """Ids of the conversations whose customer (``customer_of``) is ``key``, spelled so
    that both halves use an index: a manual link, else the visitor's signed identity."""
    linked = sa.select(conversations.c.id).where(conversations.c.customer_key == key)
    verified = (
        sa.select(conversations.c.id)
        .join(visitors, visitors.c.id == conversations.c.visitor_id)
        .where(visitors.c.external_id == key)
        .where(visitors.c.identity_verified.is_(True))
        .where(conversations.c.customer_key.is_(None))
    )
    return sa.union(linked, verified)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """How ``q`` narrows the page: a condition, and for path 2 the walk's bound."""

    condition: sa.ColumnElement[bool]
    walk: bool


async def text_match(conn: AsyncConnection, phrases: Sequence[Phrase], few: int = FEW) -> TextMatch:
    """Ask the index how many match, and choose the path (module docstring)."""
    postgres = conn.dialect.name == "postgresql"
    messages_sql, visitors_sql, params = _POSTGRES if postgres else _SQLITE
    bound = {params: _rendered(postgres, phrases), "n": few + 1}
    conversation_ids = list((await conn.execute(sa.text(messages_sql), bound)).scalars())
    visitor_ids = list((await conn.execute(sa.text(visitors_sql), bound)).scalars())
    if len(conversation_ids) <= few and len(visitor_ids) <= few:
        condition = sa.or_(
            conversations.c.id.in_(sorted(set(conversation_ids))),
            conversations.c.visitor_id.in_(visitor_ids),
        )
        return TextMatch(condition, walk=False)
    return TextMatch(_each_conversation(postgres, _rendered(postgres, phrases)), walk=True)


def _rendered(postgres: bool, phrases: Sequence[Phrase]) -> str:
    return tsquery_literal(list(phrases)) if postgres else fts5_match(list(phrases))


_SQLITE = (
    "SELECT m.conversation_id FROM message_search CROSS JOIN messages m"
    " ON m.id = message_search.rowid WHERE message_search MATCH :q LIMIT :n",
    "SELECT visitor_id FROM visitor_search WHERE visitor_search MATCH 'doc : (' || :q || ')'"
    " LIMIT :n",
    "q",
)
_POSTGRES = (
    "SELECT m.conversation_id FROM message_search s JOIN messages m ON m.id = s.message_id"
    " WHERE s.doc @@ CAST(:q AS tsquery) LIMIT :n",
    "SELECT visitor_id FROM visitor_search WHERE doc @@ CAST(:q AS tsquery) LIMIT :n",
    "q",
)


def _each_conversation(postgres: bool, rendered: str) -> sa.ColumnElement[bool]:
    """Path 2: a per-conversation question to the index (its messages by the
    (conversation_id, id) index, each looked up in the index by id)."""
    if postgres:
        return sa.or_(
            sa.text(
                "EXISTS (SELECT 1 FROM messages m JOIN message_search s ON s.message_id = m.id"
                " WHERE m.conversation_id = conversations.id"
                " AND s.doc @@ CAST(:search_q AS tsquery))"
            ).bindparams(search_q=rendered),
            sa.text(
                "EXISTS (SELECT 1 FROM visitor_search v"
                " WHERE v.visitor_id = conversations.visitor_id"
                " AND v.doc @@ CAST(:search_q AS tsquery))"
            ).bindparams(search_q=rendered),
        )
    return sa.or_(
        sa.text(
            "EXISTS (SELECT 1 FROM messages m CROSS JOIN message_search"
            " ON message_search.rowid = m.id WHERE m.conversation_id = conversations.id"
            " AND message_search MATCH :search_q)"
        ).bindparams(search_q=rendered),
        sa.text(
            "EXISTS (SELECT 1 FROM visitor_search WHERE visitor_search MATCH"
            " 'visitor_key : \"' || replace(replace(conversations.visitor_id, '_', ''),"
            " '\"', '') || '\" AND doc : (' || :search_q || ')')"
        ).bindparams(search_q=rendered),
    )
