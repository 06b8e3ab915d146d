"""The saga log: sagas, their steps, and the leases that say which node works on which.

Every write that moves a saga is fenced by its lease (``save(..., owner=)`` changes
nothing and answers False unless ``owner`` still holds it), so a node that stalled past
its lease and was replaced cannot overwrite what the new owner recorded.

Claims: an active saga (running or compensating) whose lease ran out, or that nobody
took, goes to the first node that asks. PostgreSQL picks candidates with ``FOR UPDATE
SKIP LOCKED`` so nodes claiming together take different sagas without waiting; SQLite
has one writer, so the conditional ``UPDATE … RETURNING`` is already atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.envelope import Event, encode
from kefu.domain.saga import ACTIVE, SagaState
from kefu.store.customer_of import CONVERSATION_CUSTOMER, WITH_VISITOR
from kefu.store.database import Database
from kefu.store.locks import lock_row
from kefu.store.saga_rows import (
    SAVE,
    SAVE_ENDED,
    SAVE_STEP,
    NewSaga,
    SagaFilter,
    SagaRecord,
    chunks,
    create_statements,
    create_sync,
    cut_error,
    existing_id,
    read_saga,
    read_steps,
    save_statements,
    save_sync,
    step_values,
    to_record,
)
from kefu.store.tables import (
    conversations,
    outbox,
    saga_steps,
    sagas,
    ticket_comments,
    tickets,
)

__all__ = ["LostLease", "NewSaga", "SagaFilter", "SagaRecord", "SagaRepository", "SagasInUnit"]


class LostLease(Exception):
    """Another node holds the saga now (a fenced save was refused): this one stops
    working on it."""


_ACTIVE = sorted(status.value for status in ACTIVE)


class SagaRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- creation ---------------------------------------------------------------------------

    async def create(
        self,
        conn: AsyncConnection,
        saga: NewSaga,
        now: datetime,
        *,
        owner: str | None,
        lease_until: datetime | None,
    ) -> tuple[str, bool]:
        """``SagasInUnit.create`` on a transaction the caller holds."""
        return await SagasInUnit(conn).create(saga, now, owner=owner, lease_until=lease_until)

    async def create_alone(
        self, saga: NewSaga, now: datetime, *, owner: str | None, lease_until: datetime | None
    ) -> tuple[str, bool]:
        """``create`` in a transaction of its own (SQLite: one hop on the writer thread)."""
        if self._db.dialect != "sqlite":
            async with self._db.begin() as conn:
                return await self.create(conn, saga, now, owner=owner, lease_until=lease_until)
        statements = create_statements("sqlite", saga, now, owner, lease_until)
        return await self._db.run_in_transaction(create_sync, saga.id, *statements)

    # -- reads -------------------------------------------------------------------------------

    async def get(self, saga_id: str, conn: AsyncConnection | None = None) -> SagaRecord | None:
        if conn is not None:
            return await read_saga(conn, saga_id)
        async with self._db.connect() as own:
            return await read_saga(own, saga_id)

    async def search(
        self, where: SagaFilter, *, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[SagaRecord]:
        """Newest first; ``before`` = (started_at, id) of the last item of the page before."""
        query = sa.select(sagas)
        if where.status is not None:
            query = query.where(sagas.c.status == where.status)
        if where.customer_key is not None:
            query = query.where(sagas.c.customer_key == where.customer_key)
        if where.name is not None:
            query = query.where(sagas.c.name == where.name)
        if before is not None:
            at, last = before
            query = query.where(
                sa.or_(
                    sagas.c.started_at < at,
                    sa.and_(sagas.c.started_at == at, sagas.c.id < last),
                )
            )
        query = query.order_by(sagas.c.started_at.desc(), sagas.c.id.desc()).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
            steps = await read_steps(conn, [row.id for row in rows])
        return [to_record(row, steps.get(row.id, [])) for row in rows]

    async def watchers_of(self, customer_key: str) -> list[tuple[str, str | None]]:
        """(conversation id, assignee id) of the customer's conversations not closed: who
        is looking at this customer right now."""
        query = (
            sa.select(conversations.c.id, conversations.c.assignee_id)
            .select_from(WITH_VISITOR)
            .where(CONVERSATION_CUSTOMER.op("=")(customer_key))
            .where(conversations.c.status != "closed")
        )
        async with self._db.connect() as conn:
            return [(row.id, row.assignee_id) for row in await conn.execute(query)]

    async def made_by(self, actor: str, ticket_id: int | None = None) -> list[int]:
        """What a saga's kefu steps made as ``actor`` (``saga:<id>``), oldest first: its
        tickets, or with ``ticket_id`` its comments on that ticket. A step re-run after a
        crash answers with what its first run made."""
        if ticket_id is None:
            query = sa.select(tickets.c.id).where(tickets.c.created_by == actor)
            query = query.order_by(tickets.c.id)
        else:
            query = (
                sa.select(ticket_comments.c.id)
                .where(ticket_comments.c.ticket_id == ticket_id)
                .where(ticket_comments.c.author == actor)
                .order_by(ticket_comments.c.id)
            )
        async with self._db.connect() as conn:
            return [int(row[0]) for row in await conn.execute(query)]

    # -- changes -----------------------------------------------------------------------------

    async def lock(self, conn: AsyncConnection, saga_id: str) -> SagaRecord | None:
        """``SagasInUnit.lock`` on a transaction the caller holds."""
        return await SagasInUnit(conn).lock(saga_id)

    async def save(
        self,
        conn: AsyncConnection,
        saga_id: str,
        before: SagaState,
        after: SagaState,
        now: datetime,
        *,
        owner: str | None,
        lease_until: datetime | None = None,
    ) -> bool:
        """``SagasInUnit.save`` on a transaction the caller holds."""
        unit = SagasInUnit(conn)
        return await unit.save(saga_id, before, after, now, owner=owner, lease_until=lease_until)

    async def save_alone(
        self,
        saga_id: str,
        before: SagaState,
        after: SagaState,
        now: datetime,
        *,
        owner: str,
        events: Sequence[Event] = (),
    ) -> bool:
        """``save`` in a transaction of its own, with ``events`` into the outbox in it. On
        SQLite it runs on the store's writer thread (one hop instead of one per statement:
        a step's record is the engine's hottest write, and SQLite has one writer anyway)."""
        ended = after.status not in ACTIVE
        saga = {
            "b_id": saga_id,
            "b_owner": owner,
            "status": after.status.value,
            "error": cut_error(after.error),
            "finished_at": after.finished_at,
            "updated_at": now,
        }
        steps = [
            {"b_saga": saga_id, "b_position": position, **step_values(new)}
            for position, (old, new) in enumerate(zip(before.steps, after.steps, strict=True))
            if old != new
        ]
        rows = [
            {"subject": e.subject, "event_id": e.id, "payload": encode(e), "created_at": now}
            for e in events
        ]
        if self._db.dialect == "sqlite":
            return await self._db.run_in_transaction(save_sync, ended, saga, steps, rows)
        async with self._db.begin() as conn:
            if not (await conn.execute(SAVE_ENDED if ended else SAVE, saga)).rowcount:
                return False
            if steps:
                await conn.execute(SAVE_STEP, steps)
            if rows:
                await conn.execute(outbox.insert(), rows)
            return True

    async def take(self, conn: AsyncConnection, saga_id: str, owner: str, until: datetime) -> None:
        """``SagasInUnit.take`` on a transaction the caller holds."""
        await SagasInUnit(conn).take(saga_id, owner, until)

    async def claim(self, owner: str, now: datetime, lease: timedelta, limit: int) -> list[str]:
        """Take up to ``limit`` active sagas nobody holds (lease ran out or never taken)."""
        if limit <= 0:
            return []
        free = sa.or_(sagas.c.lease_until.is_(None), sagas.c.lease_until < now)
        candidates = (
            sa.select(sagas.c.id)
            .where(sagas.c.status.in_(_ACTIVE))
            .where(free)
            .order_by(sagas.c.started_at, sagas.c.id)
            .limit(limit)
        )
        async with self._db.begin() as conn:
            if conn.dialect.name == "postgresql":
                # A CTE runs once: as an IN (subquery) PostgreSQL may rescan it per row,
                # and each rescan could pick (and lock) different candidates.
                picked = candidates.with_for_update(skip_locked=True).cte("picked")
                chosen: Any = sa.select(picked.c.id)
            else:
                chosen = candidates
            statement = (
                sagas.update()
                .where(sagas.c.id.in_(chosen.scalar_subquery()))
                .where(sagas.c.status.in_(_ACTIVE))
                .where(free)
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(sagas.c.id)
            )
            return sorted(str(row.id) for row in await conn.execute(statement))

    async def renew(self, owner: str, saga_ids: Sequence[str], until: datetime) -> set[str]:
        """Extend the leases ``owner`` still holds among ``saga_ids``; those it holds."""
        if not saga_ids:
            return set()
        held: set[str] = set()
        async with self._db.begin() as conn:
            for chunk in chunks(list(saga_ids), 500):
                statement = (
                    sagas.update()
                    .where(sagas.c.id.in_(chunk))
                    .where(sagas.c.lease_owner == owner)
                    .values(lease_until=until)
                    .returning(sagas.c.id)
                )
                held.update(str(row.id) for row in await conn.execute(statement))
        return held

    async def release(self, owner: str, saga_ids: Sequence[str]) -> None:
        """Let leases go at shutdown: another node may claim them at once."""
        if not saga_ids:
            return
        async with self._db.begin() as conn:
            for chunk in chunks(list(saga_ids), 500):
                await conn.execute(
                    sagas.update()
                    .where(sagas.c.id.in_(chunk))
                    .where(sagas.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )


class SagasInUnit:
    """The saga log's writes in one unit of work (``StoreUnitOfWork.sagas``): a saga a
    caller's unit records, or a human's retry, commits with the rest of that unit."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def create(
        self,
        saga: NewSaga,
        now: datetime,
        *,
        owner: str | None,
        lease_until: datetime | None,
    ) -> tuple[str, bool]:
        """Insert the saga and its pending steps; ``(id, True)``. When a saga with the same
        idempotency key exists, nothing is written: ``(its id, False)``."""
        insert, existing, steps = create_statements(
            self._conn.dialect.name, saga, now, owner, lease_until
        )
        if not (await self._conn.execute(insert)).rowcount:
            return existing_id((await self._conn.execute(existing)).scalar_one_or_none()), False
        await self._conn.execute(saga_steps.insert(), steps)
        return saga.id, True

    async def lock(self, saga_id: str) -> SagaRecord | None:
        """Write-lock the saga for this transaction and read it (``kefu.store.locks``:
        on SQLite a write first); None if it is unknown."""
        if not await lock_row(self._conn, sagas, "id", saga_id):
            return None
        return await read_saga(self._conn, saga_id)

    async def save(
        self,
        saga_id: str,
        before: SagaState,
        after: SagaState,
        now: datetime,
        *,
        owner: str | None,
        lease_until: datetime | None = None,
    ) -> bool:
        """Record ``after`` (steps that differ from ``before`` only). Fenced: unless
        ``owner`` holds the lease (None: nobody does), nothing changes and it is False.
        An ended or failed saga lets its lease go; ``lease_until`` renews it."""
        saga, steps = save_statements(saga_id, before, after, now, owner, lease_until)
        if not (await self._conn.execute(saga)).rowcount:
            return False
        for statement in steps:
            await self._conn.execute(statement)
        return True

    async def take(self, saga_id: str, owner: str, until: datetime) -> None:
        """Hold the lease of a saga this transaction has locked (a human's retry)."""
        await self._conn.execute(
            sagas.update().where(sagas.c.id == saga_id).values(lease_owner=owner, lease_until=until)
        )
