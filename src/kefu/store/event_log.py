"""The SQL behind the store event log (``kefu.events.store_log``): reading the outbox a
page at a time, settling a handled batch (delete, dead-letter, audit) in one
transaction, the consumer's PostgreSQL advisory lock, and the dead-letter table.
``OutboxLogStore`` binds them to one database: the event log is given that, never the
database itself."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.database import Database
from kefu.store.outbox import delete_rows
from kefu.store.tables import audit_log, dead_letters, outbox
from kefu.store.unit_of_work import StoreUnitOfWork, unit_of_work


class LockSession:
    """The connection holding an advisory lock; ``check`` raises once it died (and with
    it the lock)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def check(self) -> None:
        await self._conn.execute(sa.text("SELECT 1"))


@contextlib.asynccontextmanager
async def advisory_lock(db: Database, key: int) -> AsyncIterator[LockSession]:
    """Wait for PostgreSQL's session advisory lock ``key`` (another holder keeps it until
    it stops); released on exit, or with the session if that died first."""
    async with db.engine.connect() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield LockSession(conn)
        finally:
            with contextlib.suppress(Exception):  # a dead session released it anyway
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})


async def outbox_page(db: Database, after: int, limit: int) -> list[tuple[int, bytes]]:
    """Outbox rows with ids above ``after``, in id order: (id, payload as stored)."""
    query = (
        sa.select(outbox.c.id, outbox.c.payload)
        .where(outbox.c.id > after)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    async with db.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(int(row_id), bytes(payload)) for row_id, payload in rows]


async def settle(
    db: Database,
    finished: Sequence[int],
    dead: Sequence[Mapping[str, object]],
    audit: Sequence[Mapping[str, object]],
) -> None:
    """Delete the finished outbox rows and write the dead letters and their audit
    entries, in one transaction."""
    async with db.begin() as conn:
        if dead:
            await conn.execute(audit_log.insert(), list(audit))
            await conn.execute(dead_letters.insert(), list(dead))
        await delete_rows(conn, finished)


async def dead_letter_page(db: Database, after: int, limit: int) -> list[Any]:
    """``dead_letters`` rows with ids above ``after``, in id order."""
    query = (
        sa.select(dead_letters)
        .where(dead_letters.c.id > after)
        .order_by(dead_letters.c.id)
        .limit(limit)
    )
    async with db.connect() as conn:
        return list((await conn.execute(query)).all())


async def dead_letter_row(db: Database, sequence: int) -> Any | None:
    async with db.connect() as conn:
        return (
            await conn.execute(sa.select(dead_letters).where(dead_letters.c.id == sequence))
        ).first()


class OutboxLogStore:
    """Everything the store event log asks of the store, on one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def units(self, *, collect: bool = False) -> AbstractAsyncContextManager[StoreUnitOfWork]:
        """A unit of work (``collect``: it keeps what it emitted, for the hand-off)."""
        return unit_of_work(self._db, collect=collect)

    def advisory_lock(self, key: int) -> AbstractAsyncContextManager[LockSession]:
        return advisory_lock(self._db, key)

    async def page(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        return await outbox_page(self._db, after, limit)

    async def settle(
        self,
        finished: Sequence[int],
        dead: Sequence[Mapping[str, object]],
        audit: Sequence[Mapping[str, object]],
    ) -> None:
        await settle(self._db, finished, dead, audit)

    async def dead_letters(self, after: int, limit: int) -> list[Any]:
        return await dead_letter_page(self._db, after, limit)

    async def dead_letter(self, sequence: int) -> Any | None:
        return await dead_letter_row(self._db, sequence)

    async def ping(self) -> None:
        await self._db.ping()
