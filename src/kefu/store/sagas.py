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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.envelope import Event, encode
from kefu.domain.saga import ACTIVE, SagaState, SagaStatus, StepState, StepStatus
from kefu.store.customer_of import CONVERSATION_CUSTOMER, WITH_VISITOR
from kefu.store.database import Database
from kefu.store.tables import (
    conversations,
    outbox,
    saga_steps,
    sagas,
    ticket_comments,
    tickets,
)

MAX_ERROR_CHARS = 1000
_ACTIVE = sorted(status.value for status in ACTIVE)


@dataclass(frozen=True, slots=True)
class NewSaga:
    id: str
    name: str
    customer_key: str | None
    input: Mapping[str, Any]
    idempotency_key: str | None
    created_by: str | None
    step_names: Sequence[str]


@dataclass(frozen=True, slots=True)
class SagaRecord:
    id: str
    name: str
    customer_key: str | None
    input: Mapping[str, Any]
    idempotency_key: str | None
    created_by: str | None
    started_at: datetime
    updated_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    step_names: tuple[str, ...]
    state: SagaState


@dataclass(frozen=True, slots=True)
class SagaFilter:
    status: str | None = None
    customer_key: str | None = None
    name: str | None = None


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
        """Insert the saga and its pending steps; ``(id, True)``. When a saga with the same
        idempotency key exists, nothing is written: ``(its id, False)``."""
        insert, existing, steps = _create_statements(
            conn.dialect.name, saga, now, owner, lease_until
        )
        if not (await conn.execute(insert)).rowcount:
            return _existing((await conn.execute(existing)).scalar_one_or_none()), False
        await conn.execute(saga_steps.insert(), steps)
        return saga.id, True

    async def create_alone(
        self, saga: NewSaga, now: datetime, *, owner: str | None, lease_until: datetime | None
    ) -> tuple[str, bool]:
        """``create`` in a transaction of its own (SQLite: one hop on the writer thread)."""
        if self._db.dialect != "sqlite":
            async with self._db.begin() as conn:
                return await self.create(conn, saga, now, owner=owner, lease_until=lease_until)
        statements = _create_statements("sqlite", saga, now, owner, lease_until)
        return await self._db.run_in_transaction(_create_sync, saga.id, *statements)

    # -- reads -------------------------------------------------------------------------------

    async def get(self, saga_id: str, conn: AsyncConnection | None = None) -> SagaRecord | None:
        if conn is not None:
            return await _get(conn, saga_id)
        async with self._db.connect() as own:
            return await _get(own, saga_id)

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
            steps = await _steps(conn, [row.id for row in rows])
        return [_record(row, steps.get(row.id, [])) for row in rows]

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
        """Write-lock the saga for this transaction and read it (SQLite: a write first, see
        kefu.store.tickets)."""
        if conn.dialect.name == "postgresql":
            query = sa.select(sagas.c.id).where(sagas.c.id == saga_id).with_for_update()
            if (await conn.execute(query)).first() is None:
                return None
        else:
            touched = await conn.execute(
                sagas.update().where(sagas.c.id == saga_id).values(id=sagas.c.id)
            )
            if not touched.rowcount:
                return None
        return await _get(conn, saga_id)

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
        """Record ``after`` (steps that differ from ``before`` only). Fenced: unless
        ``owner`` holds the lease (None: nobody does), nothing changes and it is False.
        An ended or failed saga lets its lease go; ``lease_until`` renews it."""
        saga, steps = _save_statements(saga_id, before, after, now, owner, lease_until)
        if not (await conn.execute(saga)).rowcount:
            return False
        for statement in steps:
            await conn.execute(statement)
        return True

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
            "error": _cut(after.error),
            "finished_at": after.finished_at,
            "updated_at": now,
        }
        steps = [
            {"b_saga": saga_id, "b_position": position, **_step_values(new)}
            for position, (old, new) in enumerate(zip(before.steps, after.steps, strict=True))
            if old != new
        ]
        rows = [
            {"subject": e.subject, "event_id": e.id, "payload": encode(e), "created_at": now}
            for e in events
        ]
        if self._db.dialect == "sqlite":
            return await self._db.run_in_transaction(_save_sync, ended, saga, steps, rows)
        async with self._db.begin() as conn:
            if not (await conn.execute(_SAVE_ENDED if ended else _SAVE, saga)).rowcount:
                return False
            if steps:
                await conn.execute(_SAVE_STEP, steps)
            if rows:
                await conn.execute(outbox.insert(), rows)
            return True

    async def take(self, conn: AsyncConnection, saga_id: str, owner: str, until: datetime) -> None:
        """Hold the lease of a saga this transaction has locked (a human's retry)."""
        await conn.execute(
            sagas.update().where(sagas.c.id == saga_id).values(lease_owner=owner, lease_until=until)
        )

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
            for chunk in _chunks(list(saga_ids), 500):
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
            for chunk in _chunks(list(saga_ids), 500):
                await conn.execute(
                    sagas.update()
                    .where(sagas.c.id.in_(chunk))
                    .where(sagas.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None)
                )


def _create_statements(
    dialect: str, saga: NewSaga, now: datetime, owner: str | None, lease_until: datetime | None
) -> tuple[Any, sa.Select[Any], list[dict[str, Any]]]:
    """The saga's insert (nothing on a known idempotency key), the query for the saga
    holding that key, and its pending steps' rows."""
    values = {
        "id": saga.id,
        "name": saga.name,
        "status": SagaStatus.RUNNING.value,
        "customer_key": saga.customer_key,
        "input": dict(saga.input),
        "idempotency_key": saga.idempotency_key,
        "created_by": saga.created_by,
        "started_at": now,
        "updated_at": now,
        "lease_owner": owner,
        "lease_until": lease_until,
    }
    flavour = postgresql if dialect == "postgresql" else sqlite
    insert = flavour.insert(sagas).values(values).on_conflict_do_nothing()
    existing = sa.select(sagas.c.id).where(sagas.c.idempotency_key == saga.idempotency_key)
    steps = [
        {
            "saga_id": saga.id,
            "position": position,
            "name": name,
            "status": StepStatus.PENDING.value,
            "attempts": 0,
            "compensation_attempts": 0,
            "maybe_applied": False,
        }
        for position, name in enumerate(saga.step_names)
    ]
    return insert, existing, steps


def _create_sync(
    conn: Connection,
    saga_id: str,
    insert: Any,
    existing: sa.Select[Any],
    steps: list[dict[str, Any]],
) -> tuple[str, bool]:
    if not conn.execute(insert).rowcount:
        return _existing(conn.execute(existing).scalar_one_or_none()), False
    conn.execute(saga_steps.insert(), steps)
    return saga_id, True


def _existing(found: Any) -> str:
    if found is None:  # a clash on the id itself (80 random bits): never in practice
        raise RuntimeError("saga id clash")
    return str(found)


def _save_statements(
    saga_id: str,
    before: SagaState,
    after: SagaState,
    now: datetime,
    owner: str | None,
    lease_until: datetime | None,
) -> tuple[sa.Update, list[sa.Update]]:
    """The fenced update of the saga row, and one update per step that changed."""
    values: dict[str, Any] = {
        "status": after.status.value,
        "error": _cut(after.error),
        "finished_at": after.finished_at,
        "updated_at": now,
    }
    if after.status not in ACTIVE:
        values["lease_owner"] = None
        values["lease_until"] = None
    elif lease_until is not None:
        values["lease_owner"] = owner
        values["lease_until"] = lease_until
    fence = sagas.c.lease_owner.is_(None) if owner is None else sagas.c.lease_owner == owner
    saga = sagas.update().where(sagas.c.id == saga_id).where(fence).values(values)
    steps = [
        saga_steps.update()
        .where(saga_steps.c.saga_id == saga_id)
        .where(saga_steps.c.position == position)
        .values(_step_values(new))
        for position, (old, new) in enumerate(zip(before.steps, after.steps, strict=True))
        if old != new
    ]
    return saga, steps


def _save_sync(
    conn: Connection,
    ended: bool,
    saga: dict[str, Any],
    steps: list[dict[str, Any]],
    rows: list[dict[str, Any]],
) -> bool:
    if not conn.execute(_SAVE_ENDED if ended else _SAVE, saga).rowcount:
        return False
    if steps:
        conn.execute(_SAVE_STEP, steps)
    if rows:
        conn.execute(outbox.insert(), rows)
    return True


# The engine's hot writes, built once with bound parameters (building a statement per
# save cost more CPU than running it on SQLite): a step's record, fenced by the lease.
_SAGA_VALUES: dict[str, Any] = {
    name: sa.bindparam(name) for name in ("status", "error", "finished_at", "updated_at")
}
_SAVE = (
    sagas.update()
    .where(sagas.c.id == sa.bindparam("b_id"))
    .where(sagas.c.lease_owner == sa.bindparam("b_owner"))
    .values(_SAGA_VALUES)
)
_SAVE_ENDED = _SAVE.values(lease_owner=None, lease_until=None)
_SAVE_STEP = (
    saga_steps.update()
    .where(saga_steps.c.saga_id == sa.bindparam("b_saga"))
    .where(saga_steps.c.position == sa.bindparam("b_position"))
    .values(
        {
            name: sa.bindparam(name)
            for name in (
                "status",
                "attempts",
                "compensation_attempts",
                "error",
                "maybe_applied",
                "started_at",
                "finished_at",
                "compensation_started_at",
                "result",
            )
        }
    )
)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[at : at + size] for at in range(0, len(items), size)]


def _cut(text: str | None) -> str | None:
    return text[:MAX_ERROR_CHARS] if text is not None else None


def _step_values(step: StepState) -> dict[str, Any]:
    return {
        "status": step.status.value,
        "attempts": step.attempts,
        "compensation_attempts": step.compensation_attempts,
        "error": _cut(step.error),
        "maybe_applied": step.maybe_applied,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "compensation_started_at": step.compensation_started_at,
        "result": dict(step.result) if step.result is not None else None,
    }


async def _get(conn: AsyncConnection, saga_id: str) -> SagaRecord | None:
    row = (await conn.execute(sa.select(sagas).where(sagas.c.id == saga_id))).first()
    if row is None:
        return None
    steps = await _steps(conn, [saga_id])
    return _record(row, steps.get(saga_id, []))


async def _steps(conn: AsyncConnection, saga_ids: list[str]) -> dict[str, list[Any]]:
    if not saga_ids:
        return {}
    query = (
        sa.select(saga_steps)
        .where(saga_steps.c.saga_id.in_(saga_ids))
        .order_by(saga_steps.c.saga_id, saga_steps.c.position)
    )
    found: dict[str, list[Any]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.saga_id, []).append(row)
    return found


def _record(row: Any, steps: list[Any]) -> SagaRecord:
    state = SagaState(
        status=SagaStatus(row.status),
        steps=tuple(
            StepState(
                status=StepStatus(s.status),
                attempts=s.attempts,
                compensation_attempts=s.compensation_attempts,
                error=s.error,
                maybe_applied=bool(s.maybe_applied),
                started_at=s.started_at,
                finished_at=s.finished_at,
                compensation_started_at=s.compensation_started_at,
                result=s.result,
            )
            for s in steps
        ),
        error=row.error,
        finished_at=row.finished_at,
    )
    return SagaRecord(
        id=row.id,
        name=row.name,
        customer_key=row.customer_key,
        input=row.input,
        idempotency_key=row.idempotency_key,
        created_by=row.created_by,
        started_at=row.started_at,
        updated_at=row.updated_at,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        step_names=tuple(s.name for s in steps),
        state=state,
    )
