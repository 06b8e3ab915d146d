"""The conversation search's index tables: each store's own kind, outside ``tables.py``.

SQLite indexes with FTS5 (virtual tables SQLAlchemy cannot describe), PostgreSQL with
``tsvector`` columns under GIN indexes; both index the terms of
``kefu.domain.search_text`` (CJK bigrams and words), never the raw text through a store
tokenizer, so a query matches the same messages on both.

- ``message_search``: one row per message with any terms, keyed by the message id
  (FTS5 rowid; a primary key on PostgreSQL). PostgreSQL writes it in the message's own
  commit (``postgres_batch``); SQLite just behind it, in batches of its own
  (``search_indexer``), and a search catches it up before reading.
- ``visitor_search``: the visitor's name and email, written when the visitor is created.

Erasure deletes messages and visitors; the index rows go with them in the same
transaction (SQLite: triggers; PostgreSQL: ON DELETE CASCADE), so erased text is never
found again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kefu.domain.search_text import document, fts5_document, tsvector_literal

# Tables (and FTS5's shadow tables, prefixed with these names) that are not in
# ``tables.metadata``: the schema comparison leaves them out.
SEARCH_TABLES = ("message_search", "visitor_search")
BACKFILL_CHUNK = 5_000

_SQLITE_CREATE = (
    # ``ascii`` splits on the spaces search_text.document writes and on ASCII punctuation,
    # nothing else: a CJK bigram stays one token. columnsize=0: no bm25 ranking, less disk.
    "CREATE VIRTUAL TABLE message_search USING fts5(doc, tokenize='ascii', columnsize=0)",
    "CREATE VIRTUAL TABLE visitor_search USING fts5("
    "visitor_id UNINDEXED, visitor_key, doc, tokenize='ascii', columnsize=0)",
    "CREATE TRIGGER message_search_erase AFTER DELETE ON messages BEGIN"
    " DELETE FROM message_search WHERE rowid = old.id; END",
    # visitor_key is the id as one token (visitor_key()), found through the index.
    "CREATE TRIGGER visitor_search_erase AFTER DELETE ON visitors BEGIN"
    " DELETE FROM visitor_search WHERE visitor_search MATCH"
    " 'visitor_key : \"' || replace(replace(old.id, '_', ''), '\"', '') || '\"'; END",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS visitor_search_erase",
    "DROP TRIGGER IF EXISTS message_search_erase",
    "DROP TABLE IF EXISTS visitor_search",
    "DROP TABLE IF EXISTS message_search",
)
_POSTGRES_CREATE = (
    # conversation_id is a copy: a search's first question (which conversations hold a
    # match) is answered from this table alone, without a lookup per match in messages.
    "CREATE TABLE message_search (message_id bigint PRIMARY KEY"
    " REFERENCES messages (id) ON DELETE CASCADE, conversation_id varchar(40) NOT NULL,"
    " doc tsvector NOT NULL)",
    "CREATE INDEX ix_message_search_doc ON message_search USING gin (doc)",
    # A search narrowed to a label's or customer's conversations reads theirs only.
    "CREATE INDEX ix_message_search_conversation ON message_search (conversation_id, message_id)",
    "CREATE TABLE visitor_search (visitor_id varchar(40) PRIMARY KEY"
    " REFERENCES visitors (id) ON DELETE CASCADE, doc tsvector NOT NULL)",
    "CREATE INDEX ix_visitor_search_doc ON visitor_search USING gin (doc)",
)
_POSTGRES_DROP = ("DROP TABLE IF EXISTS visitor_search", "DROP TABLE IF EXISTS message_search")

SQLITE_INSERT_MESSAGE = "INSERT INTO message_search (rowid, doc) VALUES (?, ?)"
SQLITE_INSERT_VISITOR = (
    "INSERT INTO visitor_search (visitor_id, visitor_key, doc) VALUES (:id, :key, :doc)"
)
POSTGRES_INSERT_VISITOR = (
    "INSERT INTO visitor_search (visitor_id, doc) VALUES (:id, CAST(:doc AS tsvector))"
)


def visitor_key(visitor_id: str) -> str:
    """The visitor id as one FTS5 token (the erase trigger computes the same in SQL)."""
    return visitor_id.replace("_", "").replace('"', "")


def is_search_table(name: str | None) -> bool:
    return name is not None and name.startswith(SEARCH_TABLES)


def create(bind: Connection) -> None:
    for statement in _POSTGRES_CREATE if _pg(bind) else _SQLITE_CREATE:
        bind.execute(sa.text(statement))


def drop(bind: Connection) -> None:
    for statement in _POSTGRES_DROP if _pg(bind) else _SQLITE_DROP:
        bind.execute(sa.text(statement))


def backfill(bind: Connection) -> None:
    """Index what the store already holds (a migration's one-off, in chunks)."""
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, conversation_id, body FROM messages WHERE id > :last"
                " ORDER BY id LIMIT :n"
            ),
            {"last": last, "n": BACKFILL_CHUNK},
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        _index_messages(bind, ((row[0], row[1], row[2]) for row in rows))
    found = bind.execute(sa.text("SELECT id, name, email FROM visitors")).all()
    for start in range(0, len(found), BACKFILL_CHUNK):
        for row in found[start : start + BACKFILL_CHUNK]:
            statement = visitor_insert(bind.dialect.name, row[0], row[1], row[2])
            if statement is not None:
                bind.execute(*statement)


def _index_messages(bind: Connection, rows: Iterable[tuple[int, str, str]]) -> None:
    if _pg(bind):
        params = [
            {"id": mid, "conversation": cid, "doc": tsvector_literal(body)}
            for mid, cid, body in rows
        ]
        sql = (
            "INSERT INTO message_search (message_id, conversation_id, doc)"
            " VALUES (:id, :conversation, CAST(:doc AS tsvector))"
        )
    else:
        params = [{"id": mid, "doc": fts5_document(body)} for mid, _, body in rows]
        sql = "INSERT INTO message_search (rowid, doc) VALUES (:id, :doc)"
    params = [p for p in params if p["doc"]]
    if params:
        bind.execute(sa.text(sql), params)


def visitor_insert(
    dialect: str, visitor_id: str, name: str | None, email: str | None
) -> tuple[sa.TextClause, dict[str, Any]] | None:
    """The statement indexing a new visitor, for the visitor's own transaction (None for
    an anonymous one: nothing to find it by)."""
    if not document(name, email):
        return None
    if dialect == "postgresql":
        doc = tsvector_literal(name, email)
        return sa.text(POSTGRES_INSERT_VISITOR), {"id": visitor_id, "doc": doc}
    return sa.text(SQLITE_INSERT_VISITOR), {
        "id": visitor_id,
        "key": visitor_key(visitor_id),
        "doc": document(name, email),
    }


def _pg(bind: Connection) -> bool:
    return bind.dialect.name == "postgresql"
