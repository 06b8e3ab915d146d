"""The outbox table's SQL: events written in their change's transaction, deleted once
relayed or consumed (``kefu.events.outbox`` says why; this module only stores)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.envelope import Event, encode
from kefu.store.bulk import insert_rows, insert_with_ids
from kefu.store.database import Database
from kefu.store.tables import outbox

COLUMNS = ("subject", "event_id", "payload", "created_at")

OutboxRow = tuple[str, str, bytes, datetime]
"""(subject, event id, encoded event, created at)."""


async def emit(conn: AsyncConnection, events: Sequence[Event], now: datetime) -> None:
    """Write ``events`` to the outbox on ``conn`` (a store writer's own transaction;
    services emit through their unit of work)."""
    if events:
        await insert(conn, [(event.subject, event.id, encode(event), now) for event in events])


async def insert(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
    await insert_rows(conn, outbox, COLUMNS, rows)


async def insert_returning_ids(conn: AsyncConnection, rows: Sequence[OutboxRow]) -> list[int]:
    """Insert and return the rows' ids, in order (for a consumer handed them directly)."""
    return await insert_with_ids(conn, outbox, COLUMNS, rows)


_DELETE = {
    # One parameter however many rows: no statement compiled per list length.
    "postgresql": sa.text("DELETE FROM outbox WHERE id = ANY(:ids)"),
    "sqlite": sa.text("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(:ids))"),
}


async def delete_rows(conn: AsyncConnection, ids: Sequence[int]) -> None:
    """Delete outbox rows by id (relayed or consumed)."""
    if not ids:
        return
    if conn.dialect.name == "sqlite":
        await conn.execute(_DELETE["sqlite"], {"ids": json.dumps(list(ids))})
    else:
        await conn.execute(_DELETE["postgresql"], {"ids": list(ids)})


async def oldest(db: Database, limit: int) -> list[tuple[int, str, str, bytes]]:
    """Up to ``limit`` rows in id order, as (id, subject, event id, payload as stored)."""
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox.c.id, outbox.c.subject, outbox.c.event_id, outbox.c.payload)
                .order_by(outbox.c.id)
                .limit(limit)
            )
        ).all()
    return [(int(r.id), r.subject, r.event_id, bytes(r.payload)) for r in rows]


async def delete(db: Database, ids: Sequence[int]) -> None:
    """``delete_rows`` in a transaction of its own."""
    async with db.begin() as conn:
        await delete_rows(conn, ids)


class OutboxRepository:
    """The outbox as the relay to JetStream reads and empties it, each call its own
    transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def oldest(self, limit: int) -> list[tuple[int, str, str, bytes]]:
        return await oldest(self._db, limit)

    async def delete(self, ids: Sequence[int]) -> None:
        await delete(self._db, ids)
