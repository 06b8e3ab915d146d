"""Webhook deliveries and endpoint health in the store.

Deliveries are rows, not in-memory work: one enqueued in a rule's transaction exists
exactly when the rule's effect committed, survives a restart, and any node may send it.
A node *claims* due rows by pushing their ``next_attempt_at`` one lease into the future
in the same statement that selects them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
nodes never wait on each other; SQLite has a single writer anyway). A node that dies
mid-send leaves the lease to run out, and the delivery is tried again: at least once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.envelope import Event, encode
from kefu.domain.webhooks import Claimed, Delivery, DeliveryStatus, EndpointState
from kefu.store.database import Database
from kefu.store.tables import webhook_deliveries as deliveries
from kefu.store.tables import webhook_endpoints as endpoints

PENDING = DeliveryStatus.PENDING.value
# The column's width; a longer error (a receiver's chatty 500 page) is cut to fit.
MAX_ERROR_CHARS = 500

_LOG_COLUMNS = (
    deliveries.c.id,
    deliveries.c.endpoint,
    deliveries.c.event_id,
    deliveries.c.event_type,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.next_attempt_at,
    deliveries.c.last_status_code,
    deliveries.c.last_error,
    deliveries.c.created_at,
    deliveries.c.delivered_at,
)


def delivery_insert(dialect: str, endpoint: str, event: Event, now: datetime) -> sa.Insert:
    """A pending delivery of ``event`` to ``endpoint``, due at once.

    ``ON CONFLICT (endpoint, event_id) DO NOTHING``: an event redelivered by the bus and
    routed again reaches the endpoint once.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(deliveries)
        .values(
            endpoint=endpoint,
            event_id=event.id,
            event_type=event.type,
            payload=encode(event),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[deliveries.c.endpoint, deliveries.c.event_id])
    )


class WebhooksInUnit:
    """Deliveries queued in one unit of work (``StoreUnitOfWork.webhooks``): a delivery
    exists exactly when the rule's effect that queued it committed."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def enqueue(self, endpoint: str, event: Event, now: datetime) -> bool:
        """Queue ``event`` for ``endpoint``; False if it was queued there already."""
        statement = delivery_insert(self._conn.dialect.name, endpoint, event, now)
        result = await self._conn.execute(statement)
        return result.rowcount == 1


class WebhookRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_endpoints(self, names: Sequence[str]) -> None:
        """A health row per configured endpoint, so later updates need no upsert."""
        if not names:
            return
        insert = postgresql.insert if self._db.dialect == "postgresql" else sqlite.insert
        statement = (
            insert(endpoints)
            .values([{"name": name, "consecutive_failures": 0} for name in names])
            .on_conflict_do_nothing(index_elements=[endpoints.c.name])
        )
        async with self._db.begin() as conn:
            await conn.execute(statement)

    async def due_times(self, names: Sequence[str]) -> dict[str, datetime]:
        """Per endpoint among ``names`` and not disabled: its earliest pending attempt.

        A disabled endpoint is left out, so its pending deliveries wait and never wake
        the worker.
        """
        disabled = sa.select(endpoints.c.name).where(endpoints.c.disabled_at.is_not(None))
        query = (
            sa.select(deliveries.c.endpoint, sa.func.min(deliveries.c.next_attempt_at).label("at"))
            .where(
                deliveries.c.status == PENDING,
                deliveries.c.endpoint.in_(names),
                deliveries.c.endpoint.not_in(disabled),
            )
            .group_by(deliveries.c.endpoint)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.endpoint: row.at for row in rows if row.at is not None}

    async def claim(
        self, endpoint: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claimed]:
        """Take up to ``limit`` due deliveries of ``endpoint``, oldest due first.

        Their ``next_attempt_at`` becomes ``lease_until``: no node claims them again
        before then, and if this one never records an outcome they come due again.
        """
        disabled = sa.exists().where(
            endpoints.c.name == endpoint, endpoints.c.disabled_at.is_not(None)
        )
        due = (
            sa.select(deliveries.c.id)
            .where(
                deliveries.c.status == PENDING,
                deliveries.c.endpoint == endpoint,
                deliveries.c.next_attempt_at <= now,
                ~disabled,
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=deliveries)
        )
        statement = (
            deliveries.update()
            .where(deliveries.c.id.in_(due))
            .values(next_attempt_at=lease_until)
            .returning(
                deliveries.c.id,
                deliveries.c.endpoint,
                deliveries.c.event_id,
                deliveries.c.event_type,
                deliveries.c.payload,
                deliveries.c.attempts,
            )
        )
        async with self._db.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return [
            Claimed(r.id, r.endpoint, r.event_id, r.event_type, bytes(r.payload), r.attempts)
            for r in rows
        ]

    async def record_success(
        self, delivery_id: int, endpoint: str, status_code: int, now: datetime
    ) -> None:
        """Delivered; the endpoint's run of failures (if any) ends."""
        async with self._db.begin() as conn:
            await conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, deliveries.c.status == PENDING)
                .values(
                    status=DeliveryStatus.DELIVERED.value,
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=None,
                    last_status_code=status_code,
                    last_error=None,
                    delivered_at=now,
                )
            )
            # Conditional, so the common case (no failures) writes no endpoint row.
            await conn.execute(
                endpoints.update()
                .where(endpoints.c.name == endpoint, endpoints.c.consecutive_failures != 0)
                .values(consecutive_failures=0)
            )

    async def record_failure(
        self,
        delivery_id: int,
        endpoint: str,
        *,
        status_code: int | None,
        error: str,
        retry_at: datetime | None,
        disable_after: int,
        now: datetime,
    ) -> bool:
        """Count a failed attempt; ``retry_at`` None means no attempt is left (failed).

        Returns True when this failure disabled the endpoint (its ``disable_after``-th in
        a row, counted across events and nodes by an atomic increment).
        """
        error = error[:MAX_ERROR_CHARS]
        values: dict[str, object] = {
            "attempts": deliveries.c.attempts + 1,
            "last_status_code": status_code,
            "last_error": error,
            "next_attempt_at": retry_at,
        }
        if retry_at is None:
            values["status"] = DeliveryStatus.FAILED.value
        async with self._db.begin() as conn:
            await conn.execute(
                deliveries.update()
                .where(deliveries.c.id == delivery_id, deliveries.c.status == PENDING)
                .values(values)
            )
            failures = (
                await conn.execute(
                    endpoints.update()
                    .where(endpoints.c.name == endpoint)
                    .values(consecutive_failures=endpoints.c.consecutive_failures + 1)
                    .returning(endpoints.c.consecutive_failures)
                )
            ).scalar_one_or_none()
            if failures is None or failures < disable_after:
                return False
            reason = f"{failures} failed attempts in a row; the last: {error}"
            result = await conn.execute(
                endpoints.update()
                .where(endpoints.c.name == endpoint, endpoints.c.disabled_at.is_(None))
                .values(disabled_at=now, disabled_reason=reason[:MAX_ERROR_CHARS])
            )
            return result.rowcount == 1

    async def states(self, names: Sequence[str]) -> list[EndpointState]:
        """Health and pending count of each endpoint in ``names``, in that order."""
        pending_query = (
            sa.select(deliveries.c.endpoint, sa.func.count().label("n"))
            .where(deliveries.c.status == PENDING, deliveries.c.endpoint.in_(names))
            .group_by(deliveries.c.endpoint)
        )
        async with self._db.connect() as conn:
            rows = {
                r.name: r
                for r in await conn.execute(endpoints.select().where(endpoints.c.name.in_(names)))
            }
            pending = {r.endpoint: r.n for r in await conn.execute(pending_query)}
        states = []
        for name in names:
            row = rows.get(name)
            states.append(
                EndpointState(
                    name=name,
                    consecutive_failures=row.consecutive_failures if row else 0,
                    disabled_at=row.disabled_at if row else None,
                    disabled_reason=row.disabled_reason if row else None,
                    pending=pending.get(name, 0),
                )
            )
        return states

    async def forget(self, name: str) -> None:
        """Delete an endpoint's deliveries and health row (a console webhook removed):
        nothing is sent to it again, and a new webhook of that name starts clean."""
        async with self._db.begin() as conn:
            await conn.execute(deliveries.delete().where(deliveries.c.endpoint == name))
            await conn.execute(endpoints.delete().where(endpoints.c.name == name))

    async def enable(self, name: str) -> None:
        """Clear the disabled mark and the failure count; pending deliveries become due."""
        async with self._db.begin() as conn:
            await conn.execute(
                endpoints.update()
                .where(endpoints.c.name == name)
                .values(consecutive_failures=0, disabled_at=None, disabled_reason=None)
            )

    async def deliveries(
        self,
        endpoint: str,
        *,
        status: DeliveryStatus | None,
        before_id: int | None,
        limit: int,
    ) -> list[Delivery]:
        """The delivery log of ``endpoint``, newest first (ids only increase)."""
        query = sa.select(*_LOG_COLUMNS).where(deliveries.c.endpoint == endpoint)
        if status is not None:
            query = query.where(deliveries.c.status == status.value)
        if before_id is not None:
            query = query.where(deliveries.c.id < before_id)
        query = query.order_by(deliveries.c.id.desc()).limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(row._mapping) for row in rows]

    async def get(self, delivery_id: int) -> Delivery | None:
        query = sa.select(*_LOG_COLUMNS).where(deliveries.c.id == delivery_id)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return _delivery(row._mapping) if row is not None else None

    async def retry(self, delivery_id: int, now: datetime) -> Delivery | None:
        """A failed delivery back to pending, due now, with a fresh set of attempts.

        None when there is no such failed delivery (absent, pending or delivered).
        """
        statement = (
            deliveries.update()
            .where(
                deliveries.c.id == delivery_id,
                deliveries.c.status == DeliveryStatus.FAILED.value,
            )
            .values(status=PENDING, attempts=0, next_attempt_at=now)
            .returning(*_LOG_COLUMNS)
        )
        async with self._db.begin() as conn:
            row = (await conn.execute(statement)).first()
        return _delivery(row._mapping) if row is not None else None


def _delivery(m: RowMapping) -> Delivery:
    return Delivery(
        id=m["id"],
        endpoint=m["endpoint"],
        event_id=m["event_id"],
        event_type=m["event_type"],
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_status_code=m["last_status_code"],
        last_error=m["last_error"],
        created_at=m["created_at"],
        delivered_at=m["delivered_at"],
    )
