"""The SQLite group commit: plain DB-API ``executemany`` on the single writer thread.

SQLite has exactly one writer (kefu's writer thread; one kefu process per database file),
so ids are drawn here: ``max(id) + 1 …``, inserted explicitly with ``INSERT OR IGNORE``.
The unique (sender_id, client_msg_id) key skips resends, and only when the row count says
something was skipped are the stored originals looked up. Going below SQLAlchemy here
matters: its generic multi-row insert spent most of a batch building parameters in Python.
Timestamps are written in the text format SQLAlchemy's SQLite dialect reads back. The
search index is not written here: ``kefu.store.search_indexer`` fills it just behind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from kefu.domain.models import Message, NewMessage
from kefu.store.batch import BatchResult, Key, assemble, key_of, plan_batch, stored
from kefu.store.messages import message_from_row

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime storage format

_INSERT = (
    "INSERT OR IGNORE INTO messages (id, conversation_id, sender_kind, sender_id, sender_name,"
    " body, client_msg_id, created_at, internal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_TOUCH = "UPDATE conversations SET last_message_id = ?, updated_at = ? WHERE id = ?"
_EXISTING = "SELECT * FROM messages WHERE sender_id = ? AND client_msg_id = ?"


def write_batch_sqlite(conn: Connection, batch: Sequence[NewMessage]) -> BatchResult:
    raw: Any = conn.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError("write_batch_sqlite needs the sqlite3 driver")
    fresh, copies = plan_batch(batch)
    cursor = raw.cursor()
    try:
        (start,) = cursor.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
        rows = [_row(message_id, batch[index]) for message_id, index in enumerate(fresh, start + 1)]
        cursor.executemany(_INSERT, rows)
        inserted = {row[0] for row in rows}
        if cursor.rowcount != len(rows):  # some client_msg_ids were stored before
            query = "SELECT id FROM messages WHERE id > ?"
            inserted = {message_id for (message_id,) in cursor.execute(query, (start,))}

        results: dict[int, tuple[Message, bool]] = {}
        skipped: dict[Key, int] = {}
        last: dict[str, tuple[int, str]] = {}
        for row, index in zip(rows, fresh, strict=True):
            new = batch[index]
            if row[0] in inserted:
                results[index] = (stored(row[0], new), True)
                if not new.internal:  # a note is not the conversation's last word
                    last[new.conversation_id] = (row[0], row[7])
            else:
                skipped[key_of(new)] = index
        for key, index in skipped.items():
            cursor.row_factory = sqlite3.Row
            original = cursor.execute(_EXISTING, key).fetchone()
            cursor.row_factory = None
            results[index] = (message_from_row(_Stored(original)), False)
        cursor.executemany(_TOUCH, [(mid, at, cid) for cid, (mid, at) in last.items()])
    finally:
        cursor.close()
    return assemble(len(batch), results, copies)


def _row(message_id: int, new: NewMessage) -> tuple[Any, ...]:
    sender = new.sender
    return (
        message_id,
        new.conversation_id,
        sender.kind.value,
        sender.id,
        sender.name,
        new.body,
        new.client_msg_id,
        sqlite_time(new.created_at),
        new.internal,
    )


def sqlite_time(moment: datetime) -> str:
    """``moment`` in UTC as ``SQLITE_TIME_FORMAT`` writes it; ``isoformat`` is a few
    times cheaper than ``strftime`` and this runs once per message stored."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "microseconds")[:26]


class _Stored:
    """Attribute access over a raw ``sqlite3.Row``, parsing the timestamp back."""

    def __init__(self, row: sqlite3.Row) -> None:
        self.__dict__.update(dict(row))
        self.created_at = datetime.strptime(row["created_at"], SQLITE_TIME_FORMAT).replace(
            tzinfo=UTC
        )
