"""Which conversations a list asks for: the filters, and ``q`` over the search index.

A conversation matches ``q`` when one of its messages (private notes included: only
agents search) or its visitor's name or email holds every phrase of the query. A search
lists the matching conversations by their newest match, newest first
(``newest_matches``): the order the index can give cheaply on both stores. Ordering by
the conversation's latest activity instead needs every match's conversation, or a walk
asking about each conversation in turn; at 1,000,000 messages both cost hundreds of
milliseconds for a common word (measured with ``bench/search.py``, docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.search_text import Phrase, encode, fts5_match, text_matches, tsquery_literal
from kefu.store.tables import conversation_labels, conversations, messages, visitors

# Visitors a name or email query considers at most (an email domain can match most).
FEW = 3_000
# Index rows read in the first round trip (about what a page of 50 needs; PostgreSQL
# reads a common term backwards along the primary key, checking each row), the most per
# round trip, and the most per page (a page's time bound).
CHUNK = 250
MAX_CHUNK = 4_000
BUDGET = 20_000

Keyset = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's narrowing besides status and assignee (``filtered`` has those)."""

    label: str | None = None
    customer_key: str | None = None
    phrases: Sequence[Phrase] = ()


NO_FILTERS = Filters()


def among(column: sa.ColumnElement[Any], ids: Sequence[str], postgres: bool) -> Any:
    """``column IN ids``; on PostgreSQL as ``= ANY(array)``: one statement whatever the
    count, prepared once per connection (an IN list of each length is a statement of
    its own, parsed and planned again: a round trip and ~1-5 ms on a loaded host)."""
    if postgres:
        return column == sa.any_(sa.literal(list(ids), type_=ARRAY(sa.String)))
    return column.in_(list(ids))


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


# ---- q: the newest matches first --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """A page of a search: conversation ids in order, and the key the next page starts
    below (None: nothing after it)."""

    ids: list[str]
    after: int | None


CandidateFilter = Callable[[AsyncConnection, list[str]], Awaitable[set[str]]]


async def newest_matches(
    conn: AsyncConnection,
    phrases: Sequence[Phrase],
    keep: CandidateFilter,
    *,
    below: int | None,
    limit: int,
    chunk: int = CHUNK,
    budget: int = BUDGET,
    walkable: bool = False,
) -> Found | None:
    """Conversations holding a match, ordered by their newest match: a matching message's
    id, or the last message's id for a conversation whose visitor's name or email matches.

    The index yields matching messages newest first (FTS5's rowid order, PostgreSQL's
    primary key or a sort of a rare term's few matches), so a page costs about as many
    index rows as it takes to find ``limit`` conversations: a common word stops early, a
    rare one has few rows. ``keep`` applies the list's other filters to candidates. A
    page reads at most ``budget`` index rows; it may then be short, with ``after`` set where
    it stopped. The key is stateless: a conversation shown on an earlier page (its newest
    match at or above ``below``) is recognised by that match and skipped.

    ``walkable``: the list's filters can pick their conversations themselves
    (``kefu.store.search_walk``). Then when the first round trip neither fills the page
    nor reaches the index's end (a common word whose newest matches the filter mostly
    drops), None: the walk answers this page in fewer reads.
    """
    postgres = conn.dialect.name == "postgresql"
    rendered = tsquery_literal(list(phrases)) if postgres else fts5_match(list(phrases))
    ceiling = below if below is not None else 2**62
    pending: list[tuple[str, int]] = []  # visitor matches not yet placed: (id, key)
    chosen: list[str] = []
    keys: dict[str, int] = {}  # each conversation's newest match: its place in the order
    position = ceiling
    read = 0
    exhausted = False
    # PostgreSQL walks the newest rows first (a bounded scan), and asks the GIN index
    # only for a term that scan found rare (see _POSTGRES_SCAN).
    scanning = postgres
    first_round = True
    while len(chosen) < limit and not exhausted and read < budget:
        asked = min(chunk, budget - read)
        scan = asked * SCAN_PER_ROW
        stream = _POSTGRES_SCAN if scanning else _POSTGRES_STREAM if postgres else _SQLITE_STREAM
        # The first round trip asks for the visitor matches too (one less on every search).
        sql = stream
        if first_round:
            sql = _FIRST.format(stream=stream, visitors=_visitor_sql(postgres))
        params = {
            "q": rendered, "below": position, "n": asked, "scan": scan, "few": FEW,
            "ceiling": ceiling,
        }  # fmt: skip
        found = (await conn.execute(sa.text(inlined(sql, postgres, rendered)), params)).all()
        rows = sorted((int(r[0]), r[1]) for r in found if r[2] == 0)
        rows.reverse()  # newest first
        if first_round:
            pending = sorted(((r[1], int(r[0])) for r in found if r[2] == 1), key=lambda i: -i[1])
            first_round = False
        read += len(rows)
        exhausted = len(rows) < asked
        end = [r for r in found if r[2] >= 2]  # the scan's end: its lowest id, whether last
        if end and len(rows) < asked:
            lowest, last = end[0][0], end[0][2] == 3
            exhausted = last or lowest is None
            if not exhausted:
                position = int(lowest)  # every row at or above it was looked at
                # Fewer than one match in RARE rows: the GIN index, from here on.
                scanning = len(rows) * RARE >= scan
        # A filter that keeps few candidates (a label, closed ones behind many open ones)
        # needs many rows: fewer, larger round trips as the page goes on.
        chunk = min(chunk * 2, MAX_CHUNK)
        if len(rows) == asked:
            position = rows[-1][0]
        floor = -1 if exhausted else position
        ordered: list[tuple[int, str]] = []
        for message_id, conversation_id in rows:
            while pending and pending[0][1] > message_id:
                ordered.append((pending[0][1], pending.pop(0)[0]))
            ordered.append((message_id, conversation_id))
        while pending and pending[0][1] > floor:
            ordered.append((pending[0][1], pending.pop(0)[0]))
        fresh = []
        for key, conversation_id in ordered:
            if conversation_id not in keys:
                keys[conversation_id] = key
                fresh.append(conversation_id)
        if not fresh:
            continue
        if below is not None:
            shown = await _matched_at_or_above(conn, postgres, fresh, phrases, below)
            fresh = [c for c in fresh if c not in shown]
        kept = await keep(conn, fresh) if fresh else set()
        for conversation_id in fresh:
            if conversation_id in kept:
                chosen.append(conversation_id)
                if len(chosen) == limit:
                    break
        if walkable and len(chosen) < limit and not exhausted:
            return None
    if len(chosen) == limit:
        return Found(chosen, keys[chosen[-1]])
    return Found(chosen, None if exhausted else position)


def inlined(sql: str, postgres: bool, rendered: str) -> str:
    """PostgreSQL: the query's tsquery written into the statement instead of bound.

    Bound, a statement is prepared once per connection and after five runs PostgreSQL
    may plan it once for every term (a generic plan: message_search's primary key walked
    back, whatever the term), which reads the whole index for a rare or absent term: 80
    ms at 100,000 messages against 0.1 ms for that term's own plan (EXPLAIN ANALYZE
    EXECUTE; bench/README.md, "Search"). Written in, each query has its own statement
    and plan. The literal is kefu's rendering of alphanumeric terms
    (``search_text.tsquery_literal``), quoted for SQL all the same.
    """
    if not postgres:
        return sql
    literal = "CAST('" + rendered.replace("'", "''") + "' AS tsquery)"
    return sql.replace("CAST(:q AS tsquery)", literal)


# Index rows a PostgreSQL scan looks at per row asked, and the share below which a term
# is rare enough for its GIN index.
SCAN_PER_ROW = 16
RARE = 200

_SQLITE_STREAM = (
    "SELECT message_search.rowid AS message_id, m.conversation_id AS conversation_id,"
    " 0 AS kind"
    " FROM message_search"
    " CROSS JOIN messages m ON m.id = message_search.rowid"
    " WHERE message_search MATCH :q AND message_search.rowid < :below"
    " ORDER BY message_search.rowid DESC LIMIT :n"
)
_POSTGRES_STREAM = (
    "SELECT message_id, conversation_id, 0 AS kind FROM message_search"
    " WHERE doc @@ CAST(:q AS tsquery) AND message_id < :below"
    " ORDER BY message_id DESC LIMIT :n"
)
# PostgreSQL: the newest :scan rows below :below, walked back along the primary key and
# checked (stops at :n matches), and where that scan ends (kind 2; 3 if nothing is older).
# Left to the planner, a phrase (验证码: 验证 <-> 证码) was estimated at 388 rows of its
# 20,095 and fetched whole through the GIN index and sorted: 150-310 ms at 1,000,000
# messages, against ~10 ms for this scan (bench/README.md, "Search").
_POSTGRES_SCAN = (
    "(SELECT r.message_id, r.conversation_id, 0 AS kind FROM (SELECT message_id,"
    " conversation_id, doc FROM message_search WHERE message_id < :below"
    " ORDER BY message_id DESC LIMIT :scan) AS r"
    " WHERE r.doc @@ CAST(:q AS tsquery) ORDER BY r.message_id DESC LIMIT :n)"
    " UNION ALL (SELECT min(e.message_id), NULL, 2 + (count(*) < :scan)::int FROM"
    " (SELECT message_id FROM message_search WHERE message_id < :below"
    " ORDER BY message_id DESC LIMIT :scan) AS e)"
)


_FIRST = (
    "SELECT s.message_id, s.conversation_id, s.kind FROM ({stream}) AS s"
    " UNION ALL SELECT v.last_message_id, v.id, 1 FROM ({visitors}) AS v"
)


async def _visitor_matches(
    conn: AsyncConnection, postgres: bool, rendered: str, ceiling: int
) -> dict[str, int]:
    """Conversations whose visitor matches (at most FEW visitors), keyed by their last
    message's id, below ``ceiling``."""
    sql = _visitor_sql(postgres)
    rows = await conn.execute(
        sa.text(inlined(sql, postgres, rendered)), {"q": rendered, "few": FEW, "ceiling": ceiling}
    )
    return {row[0]: int(row[1]) for row in rows}


def _visitor_sql(postgres: bool) -> str:
    """(id, last_message_id) of the conversations whose visitor matches."""
    if postgres:
        sql = (
            "SELECT c.id, c.last_message_id FROM conversations c"
            " WHERE c.visitor_id IN (SELECT visitor_id FROM visitor_search"
            "   WHERE doc @@ CAST(:q AS tsquery) LIMIT :few)"
            " AND c.last_message_id < :ceiling"
        )
    else:
        sql = (
            "SELECT c.id, c.last_message_id FROM conversations c"
            " WHERE c.visitor_id IN (SELECT visitor_id FROM visitor_search"
            "   WHERE visitor_search MATCH 'doc : (' || :q || ')' LIMIT :few)"
            " AND c.last_message_id < :ceiling"
        )
    return sql


async def _matched_at_or_above(
    conn: AsyncConnection,
    postgres: bool,
    candidates: list[str],
    phrases: Sequence[Phrase],
    key: int,
) -> set[str]:
    """Those candidates an earlier page showed: a message of theirs at or above ``key``
    matches (conversations are short-lived, so this is usually no row at all), or their
    visitor matched with a last message there."""
    query = (
        sa.select(messages.c.conversation_id, messages.c.body)
        .where(among(messages.c.conversation_id, candidates, postgres))
        .where(messages.c.id >= key)
    )
    encoded = encode(list(phrases))
    shown = {
        row.conversation_id for row in await conn.execute(query) if text_matches(row.body, encoded)
    }
    last = sa.select(conversations.c.id).where(among(conversations.c.id, candidates, postgres))
    last = last.where(conversations.c.last_message_id >= key)
    above = set((await conn.execute(last)).scalars())
    if above:
        rendered = tsquery_literal(list(phrases)) if postgres else fts5_match(list(phrases))
        matched = await _visitor_matches(conn, postgres, rendered, 2**62)
        shown |= above & set(matched)
    return shown
