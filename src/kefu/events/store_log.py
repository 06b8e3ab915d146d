"""The embedded event log: the store's ``outbox`` table, consumed in place.

Durable as the store is; one consumer at a time (SQLite has one process anyway; on
PostgreSQL an advisory lock lets one node consume while the others wait as standbys).
Several nodes sharing events use JetStream (``bus: nats://…``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from kefu.events.envelope import Event, decode_trusted
from kefu.events.log import BatchHandler, Outcome, Received, Result
from kefu.events.outbox import emit
from kefu.ports import Clock
from kefu.store.database import Database
from kefu.store.tables import audit_log, outbox

log = logging.getLogger(__name__)

CONSUMER_LOCK = 0x6B656675_0002  # "kefu" + 2: the outbox consumer's advisory lock
POLL_SECONDS = 0.2
LOCK_CHECK_SECONDS = 5.0  # how soon a node notices it lost the consumer lock
RESUME_PAUSE_SECONDS = 1.0
FAILED = Result(
    Outcome.RETRY, "handler failed"
)  # rows written by other transactions are seen within this


class StoreEventLog:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        batch: int,
        max_attempts: int,
        backoff_seconds: Sequence[float] = (1.0, 5.0, 30.0, 120.0),
    ) -> None:
        self._db = db
        self._clock = clock
        self._batch = batch
        self._max_attempts = max_attempts
        self._backoff = list(backoff_seconds) or [1.0]
        self._wake = asyncio.Event()
        # Per outbox row: deliveries so far and when it may come again (RETRY).
        self._attempts: dict[int, int] = {}
        self._not_before: dict[int, float] = {}

    def wake(self) -> None:
        """Something was just written to the outbox: look now rather than at the next poll."""
        self._wake.set()

    async def append(self, events: Sequence[Event]) -> None:
        async with self._db.begin() as conn:
            await emit(conn, events, self._clock.now())
        self.wake()

    async def consume(self, consumer: str, handle: BatchHandler) -> None:
        """Consume until cancelled; a lost store connection costs a pause, not the loop."""
        while True:
            try:
                if self._db.dialect == "postgresql":
                    await self._consume_elected(handle)
                else:
                    await self._consume(handle)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("event consumer lost the store; resuming", exc_info=True)
                await asyncio.sleep(RESUME_PAUSE_SECONDS)

    async def _consume_elected(self, handle: BatchHandler) -> None:
        """Consume while holding the advisory lock (one consumer among the nodes).

        The lock lives with its session: the session is checked every few seconds, and
        if it died (a PostgreSQL restart, a killed backend) consuming stops, so this node
        never works on without the lock; the caller then takes the lock again.
        """
        async with self._db.engine.connect() as lock:
            # Another node consuming holds it; this one takes over when that one stops.
            await lock.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": CONSUMER_LOCK})
            work = asyncio.create_task(self._consume(handle))
            try:
                while not work.done():
                    await asyncio.wait({work}, timeout=LOCK_CHECK_SECONDS)
                    if not work.done():
                        await lock.execute(sa.text("SELECT 1"))
                work.result()  # it only ends by raising
            finally:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                with contextlib.suppress(Exception):  # a dead session released it anyway
                    await lock.execute(
                        sa.text("SELECT pg_advisory_unlock(:k)"), {"k": CONSUMER_LOCK}
                    )

    async def _consume(self, handle: BatchHandler) -> None:
        while True:
            rows = await self._due_rows()
            if not rows:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                continue
            received = []
            for row_id, payload in rows:
                attempt = self._attempts.get(row_id, 0) + 1
                self._attempts[row_id] = attempt
                received.append(Received(decode_trusted(payload), attempt))
            try:
                results = list(await handle(received))
            except Exception:
                log.exception("event handler failed for a batch of %d; retrying", len(received))
                results = []
            await self._settle([row_id for row_id, _ in rows], received, results)

    async def _due_rows(self) -> list[tuple[int, bytes]]:
        now = time.monotonic()
        waiting = [row_id for row_id, at in self._not_before.items() if at > now]
        query = sa.select(outbox.c.id, outbox.c.payload).order_by(outbox.c.id)
        if waiting:
            query = query.where(outbox.c.id.not_in(waiting))
        async with self._db.connect() as conn:
            result = await conn.execute(query.limit(self._batch))
            return [(int(row.id), bytes(row.payload)) for row in result]

    async def _settle(
        self, row_ids: list[int], received: list[Received], results: Sequence[Result]
    ) -> None:
        done: list[int] = []
        dead: list[tuple[int, Received, str]] = []
        for index, row_id in enumerate(row_ids):
            result = results[index] if index < len(results) else FAILED
            outcome = result.outcome
            reason = result.reason or "handler failed"
            attempt = received[index].attempt
            if outcome is Outcome.DONE:
                done.append(row_id)
            elif outcome is Outcome.DEAD or attempt >= self._max_attempts:
                dead.append((row_id, received[index], reason))
            else:
                delay = self._backoff[min(attempt - 1, len(self._backoff) - 1)]
                self._not_before[row_id] = time.monotonic() + delay
        finished = done + [row_id for row_id, _, _ in dead]
        if not finished:
            return
        now = self._clock.now()
        async with self._db.begin() as conn:
            if dead:
                await conn.execute(
                    audit_log.insert(), [_dead_letter(r, why, now) for _, r, why in dead]
                )
            await conn.execute(outbox.delete().where(outbox.c.id.in_(finished)))
        for _, item, why in dead:
            log.error("event %s (%s) dead-lettered: %s", item.event.id, item.event.type, why)
        for row_id in finished:
            self._attempts.pop(row_id, None)
            self._not_before.pop(row_id, None)

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        return None


def _dead_letter(item: Received, reason: str, now: datetime) -> dict[str, object]:
    return {
        "at": now,
        "actor": "events",
        "action": "event.dead_letter",
        "target": item.event.id,
        "detail": {
            "type": item.event.type,
            "reason": reason[:500],
            "attempts": item.attempt,
            "customer_key": item.event.customer_key,
        },
    }
