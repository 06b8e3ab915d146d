"""A search whose list filter passes few of the newest matches: walk the filter's
conversations, newest last message first, and ask the index about a window of them at
a time.

Why: ``conversation_search.newest_matches`` streams the index newest match first and
keeps the candidates that pass the list's filters. When the filter passes few of the
newest matches (closed conversations behind every open one, one agent's, a label's)
that stream reads tens of thousands of index rows per page: 0.2-3.5 s at 1,000,000
messages (bench/search.py). Here the filter chooses the conversations first, through
the (status, last_message_id) and (assignee_id, last_message_id) indexes (migration
0019) or the label's rows, and one statement per window asks for each conversation's
newest match: PostgreSQL through message_search's (conversation_id, message_id) index,
SQLite through one FTS5 query over the window's span of message ids (an FTS5 query per
conversation costs ~0.3 ms, the Python matcher ~20 us per message).

The order is still the newest match's. A conversation's newest match is at most its
last message, so once the walk has passed last message L, every conversation with a
match at or above L has been seen: those are placed (a threshold), the others wait for
the next window. The page key is the same as ``newest_matches``' (a conversation whose
newest match is at or above ``below`` was shown by an earlier page), so either may
answer any page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.search_text import Phrase, fts5_match, texts_match, tsquery_literal
from kefu.store.conversation_search import Filters, Found, inlined
from kefu.store.conversations import OPEN_STATUSES

# The most conversations in one window (the first holds a page and more: a common word
# is in most conversations; the next ones are sized by the share that matched), and the
# most one page walks (then it is short, with ``after`` set).
MAX_WINDOW = 2_000
WALK_BUDGET = 6_000


@dataclass(frozen=True, slots=True)
class Narrowing:
    """The list filters a walk applies to conversations (all but ``q``)."""

    status: str | None = None
    assignee_id: str | None = None
    visitor_id: str | None = None
    label: str | None = None
    customer_key: str | None = None

    @classmethod
    def of(
        cls, status: str | None, assignee_id: str | None, visitor_id: str | None, filters: Filters
    ) -> Narrowing | None:
        """The narrowing, or None for a list of every conversation (nothing to walk by)."""
        found = cls(status, assignee_id, visitor_id, filters.label, filters.customer_key)
        return None if found == cls() else found


# The visitor is joined to the window's rows only (a hash join with every visitor cost
# a scan of the table per window).
_WINDOW = (
    "SELECT w0.id, w0.last_message_id, v.name, v.email FROM ("
    "SELECT c.id, c.last_message_id, c.visitor_id FROM {source}"
    " WHERE c.last_message_id < :upper{where}"
    " ORDER BY c.last_message_id DESC LIMIT :w) AS w0 JOIN visitors v ON v.id = w0.visitor_id"
)
_CONVERSATIONS = "conversations c"
# A label's conversations, each through the primary key, then sorted: PostgreSQL
# otherwise hashed the label's rows against every conversation (28 ms for 1,662 of
# 100,000, EXPLAIN ANALYZE; 12 ms this way). OFFSET 0 keeps the lookup a nested loop.
_LABELLED = {
    True: "conversation_labels l CROSS JOIN LATERAL (SELECT * FROM conversations c0"
    " WHERE c0.id = l.conversation_id OFFSET 0) AS c",
    False: "conversation_labels l CROSS JOIN conversations c ON c.id = l.conversation_id",
}
# PostgreSQL: each conversation's newest match, walking its own index rows from the
# newest (the window is computed first: the subquery runs for its rows only).
_POSTGRES = (
    "SELECT w.id, w.last_message_id, w.name, w.email,"
    " (SELECT max(s.message_id) FROM message_search s WHERE s.conversation_id = w.id"
    "  AND s.doc @@ CAST(:q AS tsquery)) AS hit"
    " FROM ({window}) AS w ORDER BY w.last_message_id DESC"
)
# SQLite: one FTS5 query over the span of the window's message ids; the index rows of
# other conversations in that span are dropped by the ids of the window's messages
# (``+`` keeps SQLite from asking FTS5 once per id: ~0.3 ms each) before any lookup.
_SQLITE = (
    "WITH w AS MATERIALIZED ({window}),"
    " ids AS MATERIALIZED (SELECT m.id FROM messages m"
    "  WHERE m.conversation_id IN (SELECT id FROM w)),"
    " span AS MATERIALIZED (SELECT min(id) AS low, max(id) AS high FROM ids)"
    " SELECT w.id, w.last_message_id, w.name, w.email, h.hit FROM w LEFT JOIN ("
    "  SELECT m.conversation_id AS cid, max(s.rowid) AS hit FROM message_search s"
    "  CROSS JOIN messages m ON m.id = s.rowid"
    "  WHERE s.message_search MATCH :q"
    "  AND s.rowid >= (SELECT low FROM span) AND s.rowid <= (SELECT high FROM span)"
    "  AND +s.rowid IN (SELECT id FROM ids)"
    "  GROUP BY m.conversation_id) AS h ON h.cid = w.id"
    " ORDER BY w.last_message_id DESC"
)
_IN_CUSTOMER = (
    " AND c.id IN (SELECT id FROM conversations WHERE customer_key = :customer"
    " UNION SELECT c2.id FROM conversations c2 JOIN visitors v2 ON v2.id = c2.visitor_id"
    " WHERE v2.external_id = :customer AND v2.identity_verified AND c2.customer_key IS NULL)"
)


def statement(postgres: bool, narrowing: Narrowing) -> tuple[str, dict[str, Any]]:
    """The window statement for ``narrowing`` and its fixed parameters."""
    where = ""
    params: dict[str, Any] = {}
    if narrowing.status == "open":
        where += " AND c.status IN (:open_a, :open_b)"
        params.update(open_a=OPEN_STATUSES[0], open_b=OPEN_STATUSES[1])
    elif narrowing.status is not None:
        where += " AND c.status = :status"
        params["status"] = narrowing.status
    if narrowing.assignee_id is not None:
        where += " AND c.assignee_id = :assignee"
        params["assignee"] = narrowing.assignee_id
    if narrowing.visitor_id is not None:
        where += " AND c.visitor_id = :visitor"
        params["visitor"] = narrowing.visitor_id
    source = _CONVERSATIONS
    if narrowing.label is not None:
        source = _LABELLED[postgres]
        where += " AND l.label = :label"
        params["label"] = narrowing.label
    if narrowing.customer_key is not None:
        where += _IN_CUSTOMER
        params["customer"] = narrowing.customer_key
    window = _WINDOW.format(source=source, where=where)
    return (_POSTGRES if postgres else _SQLITE).format(window=window), params


async def walk(
    conn: AsyncConnection,
    phrases: Sequence[Phrase],
    narrowing: Narrowing,
    *,
    below: int | None,
    limit: int,
    budget: int = WALK_BUDGET,
    window: int | None = None,
) -> Found:
    """The page of conversations passing ``narrowing`` that hold a match, newest match
    first, below the key ``below`` (None: the first page). ``window``: conversations in
    the first window (tests make it small)."""
    postgres = conn.dialect.name == "postgresql"
    sql, params = statement(postgres, narrowing)
    params["q"] = tsquery_literal(list(phrases)) if postgres else fts5_match(list(phrases))
    sql = inlined(sql, postgres, params["q"])
    wanted = tuple(phrases)
    upper = 2**62
    # PostgreSQL pays a window mostly per statement (a label's conversations are sorted
    # again for each), little per conversation: a larger first window, most often the
    # only one. SQLite pays per conversation (the span it reads grows with the window).
    window = window or (limit * 3 if postgres else limit + limit // 5 + 1)
    walked = 0
    waiting: list[tuple[int, str]] = []  # (key, conversation) found, not yet placed
    chosen: list[tuple[int, str]] = []
    while True:
        window = min(window, budget - walked)
        rows = (await conn.execute(sa.text(sql), {**params, "upper": upper, "w": window})).all()
        walked += len(rows)
        for conversation_id, last, name, email, hit in rows:
            key = int(last) if texts_match(wanted, name, email) else hit
            if key is None or (below is not None and key >= below):
                continue  # no match, or shown by an earlier page (its newest match)
            waiting.append((int(key), conversation_id))
        exhausted = len(rows) < window
        floor = -1 if exhausted else int(rows[-1][1])
        waiting.sort(reverse=True)
        while waiting and waiting[0][0] >= floor and len(chosen) < limit:
            chosen.append(waiting.pop(0))
        if len(chosen) == limit:
            return Found([c for _, c in chosen], chosen[-1][0])
        if exhausted:
            return Found([c for _, c in chosen], None)
        if walked >= budget:
            return Found([c for _, c in chosen], floor)
        upper = floor
        window = _next_window(window, walked, len(waiting) + len(chosen), limit)


def _next_window(window: int, walked: int, matched: int, limit: int) -> int:
    """Enough conversations for the rest of the page at the share that matched so far
    (and a quarter more), else four times the last window."""
    if not matched:
        return min(window * 4, MAX_WINDOW)
    wanted = (limit - matched) * walked * 5 // (matched * 4) + 1
    return min(max(wanted, limit // 5 + 1), MAX_WINDOW)
