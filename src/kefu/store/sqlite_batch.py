"""The SQLite fast path of group commit: plain DB-API ``executemany`` on the writer thread.

SQLAlchemy's generic insert (``messages.write_batch``) spends most of a batch in Python
building parameters and RETURNING rows. SQLite has exactly one writer (kefu's writer
thread, one process per database file), so the ids can be drawn here: ``max(id) + 1 …``,
inserted explicitly with ``INSERT OR IGNORE``; the unique (sender_id, client_msg_id) key
skips resends, and only when the row count says something was skipped are the stored
originals looked up. Timestamps are written in the text format SQLAlchemy reads back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.engine import Connection

from kefu.domain.models import Message, NewMessage
from kefu.store.messages import existing_messages, plan_batch

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DateTime storage format

_INSERT = (
    "INSERT OR IGNORE INTO messages (id, conversation_id, sender_kind, sender_id, sender_name,"
    " body, client_msg_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_TOUCH = "UPDATE conversations SET last_message_id = ?, updated_at = ? WHERE id = ?"


def write_batch_sqlite(conn: Connection, batch: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
    raw: Any = conn.connection.driver_connection
    if not isinstance(raw, sqlite3.Connection):
        raise TypeError("write_batch_sqlite needs the sqlite3 driver")
    fresh, copies = plan_batch(batch)
    cursor = raw.cursor()
    (start,) = cursor.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
    rows = []
    for offset, index in enumerate(fresh, start=start + 1):
        new = batch[index]
        rows.append(
            (
                offset,
                new.conversation_id,
                new.sender.kind.value,
                new.sender.id,
                new.sender.name,
                new.body,
                new.client_msg_id,
                new.created_at.astimezone(UTC).strftime(SQLITE_TIME_FORMAT),
            )
        )
    cursor.executemany(_INSERT, rows)

    results: list[tuple[Message, bool] | None] = [None] * len(batch)
    stored_ids = {row[0] for row in rows}
    if cursor.rowcount != len(rows):  # some client_msg_ids were stored before
        stored_ids = {
            message_id
            for (message_id,) in cursor.execute("SELECT id FROM messages WHERE id > ?", (start,))
        }
    skipped: dict[tuple[str, str], int] = {}
    last: dict[str, tuple[int, str]] = {}
    for row, index in zip(rows, fresh, strict=True):
        new = batch[index]
        if row[0] in stored_ids:
            results[index] = (_message(row[0], new), True)
            last[new.conversation_id] = (row[0], row[7])
        else:
            skipped[(new.sender.id or "", new.client_msg_id or "")] = index
    if skipped:
        for key, original in existing_messages(conn, list(skipped)).items():
            results[skipped[key]] = (original, False)
    cursor.executemany(_TOUCH, [(mid, at, cid) for cid, (mid, at) in last.items()])
    cursor.close()
    for index, first in copies.items():
        first_result = results[first]
        if first_result is not None:
            results[index] = (first_result[0], False)
    done = [result for result in results if result is not None]
    if len(done) != len(batch):
        raise RuntimeError("group commit lost track of a message")  # a bug, not bad input
    return done


def _message(message_id: int, new: NewMessage) -> Message:
    return Message(
        id=message_id,
        conversation_id=new.conversation_id,
        sender=new.sender,
        body=new.body,
        created_at=new.created_at,
        client_msg_id=new.client_msg_id,
    )
