"""The saga log's rows: what a saga and its steps are as records, and the statements
that write and read them (shared by the repository's async path and the SQLite
writer's sync one)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.saga import ACTIVE, SagaState, SagaStatus, StepState, StepStatus
from kefu.store.tables import (
    outbox,
    saga_steps,
    sagas,
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


def create_statements(
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


def create_sync(
    conn: Connection,
    saga_id: str,
    insert: Any,
    existing: sa.Select[Any],
    steps: list[dict[str, Any]],
) -> tuple[str, bool]:
    if not conn.execute(insert).rowcount:
        return existing_id(conn.execute(existing).scalar_one_or_none()), False
    conn.execute(saga_steps.insert(), steps)
    return saga_id, True


def existing_id(found: Any) -> str:
    if found is None:  # a clash on the id itself (80 random bits): never in practice
        raise RuntimeError("saga id clash")
    return str(found)


def save_statements(
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
        "error": cut_error(after.error),
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
        .values(step_values(new))
        for position, (old, new) in enumerate(zip(before.steps, after.steps, strict=True))
        if old != new
    ]
    return saga, steps


def save_sync(
    conn: Connection,
    ended: bool,
    saga: dict[str, Any],
    steps: list[dict[str, Any]],
    rows: list[dict[str, Any]],
) -> bool:
    if not conn.execute(SAVE_ENDED if ended else SAVE, saga).rowcount:
        return False
    if steps:
        conn.execute(SAVE_STEP, steps)
    if rows:
        conn.execute(outbox.insert(), rows)
    return True


# The engine's hot writes, built once with bound parameters (building a statement per
# save cost more CPU than running it on SQLite): a step's record, fenced by the lease.
_SAGA_VALUES: dict[str, Any] = {
    name: sa.bindparam(name) for name in ("status", "error", "finished_at", "updated_at")
}
SAVE = (
    sagas.update()
    .where(sagas.c.id == sa.bindparam("b_id"))
    .where(sagas.c.lease_owner == sa.bindparam("b_owner"))
    .values(_SAGA_VALUES)
)
SAVE_ENDED = SAVE.values(lease_owner=None, lease_until=None)
SAVE_STEP = (
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


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[at : at + size] for at in range(0, len(items), size)]


def cut_error(text: str | None) -> str | None:
    return text[:MAX_ERROR_CHARS] if text is not None else None


def step_values(step: StepState) -> dict[str, Any]:
    return {
        "status": step.status.value,
        "attempts": step.attempts,
        "compensation_attempts": step.compensation_attempts,
        "error": cut_error(step.error),
        "maybe_applied": step.maybe_applied,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "compensation_started_at": step.compensation_started_at,
        "result": dict(step.result) if step.result is not None else None,
    }


async def read_saga(conn: AsyncConnection, saga_id: str) -> SagaRecord | None:
    row = (await conn.execute(sa.select(sagas).where(sagas.c.id == saga_id))).first()
    if row is None:
        return None
    steps = await read_steps(conn, [saga_id])
    return to_record(row, steps.get(saga_id, []))


async def read_steps(conn: AsyncConnection, saga_ids: list[str]) -> dict[str, list[Any]]:
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


def to_record(row: Any, steps: list[Any]) -> SagaRecord:
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
