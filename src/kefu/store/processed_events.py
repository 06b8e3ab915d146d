"""The ``processed_events`` table's SQL: which events a consumer has already applied, so
a redelivered event changes nothing (``kefu.events.processor``), and forgetting ids old
enough that no redelivery can bring them back (``kefu.events.retention``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.bulk import insert_rows
from kefu.store.database import Database
from kefu.store.tables import processed_events

# One array (or JSON) parameter however many ids: no statement compiled per id count.
_PROCESSED_PG = sa.text(
    "SELECT event_id FROM processed_events WHERE consumer = :consumer AND event_id = ANY(:ids)"
)
_PROCESSED_SQLITE = sa.text(
    "SELECT event_id FROM processed_events WHERE consumer = :consumer"
    " AND event_id IN (SELECT value FROM json_each(:ids))"
)
COLUMNS = ("consumer", "event_id", "processed_at")


async def processed_among(db: Database, consumer: str, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` that ``consumer`` has processed (one round trip)."""
    async with db.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = await conn.execute(
                _PROCESSED_SQLITE, {"consumer": consumer, "ids": json.dumps(list(ids))}
            )
        else:
            rows = await conn.execute(_PROCESSED_PG, {"consumer": consumer, "ids": list(ids)})
        return {row[0] for row in rows}


async def was_processed(db: Database, consumer: str, event_id: str) -> bool:
    async with db.connect() as conn:
        found = await conn.execute(
            sa.select(processed_events.c.event_id)
            .where(processed_events.c.consumer == consumer)
            .where(processed_events.c.event_id == event_id)
        )
        return found.first() is not None


async def record(conn: AsyncConnection, consumer: str, ids: Sequence[str], now: datetime) -> None:
    """Mark ``ids`` processed in the transaction storing their effects."""
    await insert_rows(conn, processed_events, COLUMNS, [(consumer, i, now) for i in ids])


async def forget_before(db: Database, cutoff: datetime) -> int:
    """Delete the rows processed before ``cutoff``; returns how many."""
    async with db.begin() as conn:
        result = await conn.execute(
            processed_events.delete().where(processed_events.c.processed_at < cutoff)
        )
    return int(result.rowcount or 0)


class ProcessedInUnit:
    """``record`` in one unit of work (``StoreUnitOfWork.processed``): the ids are marked
    processed exactly when the effects stored in that unit commit."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, consumer: str, ids: Sequence[str], now: datetime) -> None:
        await record(self._conn, consumer, ids, now)


class ProcessedEvents:
    """The table as the events processor and the pruner use it, outside any unit of work
    (inside one, ``record`` writes on the unit's connection)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def among(self, consumer: str, ids: Sequence[str]) -> set[str]:
        return await processed_among(self._db, consumer, ids)

    async def seen(self, consumer: str, event_id: str) -> bool:
        return await was_processed(self._db, consumer, event_id)

    async def forget_before(self, cutoff: datetime) -> int:
        return await forget_before(self._db, cutoff)


def driver_error(exc: Exception) -> Exception:
    """The driver's own exception inside a store error (SQLAlchemy's wraps it in the
    statement and every parameter, too long and too revealing for a dead letter)."""
    if isinstance(exc, sa.exc.DBAPIError) and isinstance(exc.orig, Exception):
        return exc.orig
    return exc
