"""The embedded event log: the store's ``outbox`` table, consumed in place.

Durable as the store is; one consumer at a time (SQLite has one process anyway; on
PostgreSQL an advisory lock lets one node consume while the others wait as standbys).
Several nodes sharing events use JetStream (``bus: nats://…``) instead.

Events this process wrote itself (``append``, and what the rules consumer's effects
emitted) are handed to the consumer in memory once their transaction committed
(``handoff``): their rows are not read back and decoded. The store stays the log: a
handed event is deleted only with its outcome settled, and everything else — other
nodes' and other transactions' events, retries due, what did not fit the bounded
hand-off queue, all of it after a restart — is read from the table (a sweep when the
queue is empty, when a writer said so, and at least every ``SWEEP_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kefu.domain.envelope import DEAD_LETTER_PREFIX, SUBJECT_PREFIX, Event, decode_trusted, encode
from kefu.errors import NotFound
from kefu.events.dead_letters import DeadLetter, replayable
from kefu.events.log import BatchHandler, Outcome, Received, Result
from kefu.events.outbox import Emitted
from kefu.observability.metrics import EVENTS_DEAD_LETTERED
from kefu.ports import Clock
from kefu.store.event_log import OutboxLogStore
from kefu.store.unit_of_work import StoreUnitOfWork

log = logging.getLogger(__name__)

CONSUMER_LOCK = 0x6B656675_0002  # "kefu" + 2: the outbox consumer's advisory lock
POLL_SECONDS = 0.2
# While the hand-off queue keeps the consumer busy, the table is still swept this often:
# other nodes' events and retries due wait at most this long behind local ones.
SWEEP_SECONDS = 1.0
# Hand-off queue bound (~1 KB of memory an event): past it, events wait in the store for
# a sweep (no loss, bounded memory when ingest outruns the consumer).
HANDOFF_EVENTS = 20_000
# Batches handled at once. On PostgreSQL two overlap the store's work on one (COPY,
# index and foreign-key upkeep, commit) with the Python work on the next; SQLite has one
# writer, so a second transaction would only wait for the first.
LANES = {"postgresql": 2, "sqlite": 1}
FIRST = asyncio.FIRST_COMPLETED
LOCK_CHECK_SECONDS = 5.0  # how soon a node notices it lost the consumer lock
RESUME_PAUSE_SECONDS = 1.0
FAILED = Result(
    Outcome.RETRY, "handler failed"
)  # rows written by other transactions are seen within this


class StoreEventLog:
    def __init__(
        self,
        store: OutboxLogStore,
        clock: Clock,
        *,
        batch: int,
        max_attempts: int,
        backoff_seconds: Sequence[float] = (1.0, 5.0, 30.0, 120.0),
        handoff_limit: int = HANDOFF_EVENTS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._batch = batch
        self._max_attempts = max_attempts
        self._backoff = list(backoff_seconds) or [1.0]
        self._wake = asyncio.Event()
        # Per outbox row: deliveries so far and when it may come again (RETRY).
        self._attempts: dict[int, int] = {}
        self._not_before: dict[int, float] = {}
        # Committed events handed over in memory, with their outbox row ids.
        self._queue: deque[tuple[int, Event]] = deque()
        self._queued: set[int] = set()
        self._busy: set[int] = set()  # rows of the batches being handled and settled
        # Rows recently read by sweeps: a hand-off arriving after a sweep took them is
        # not queued again. Bounded; past it a row may be processed twice, which the
        # processor's dedupe makes harmless, and a hand-off skipped for a reused id
        # (SQLite reuses the ids of deleted rows) leaves its row to the next sweep.
        self._swept_ids: set[int] = set()
        self._swept_order: deque[int] = deque()
        self._lanes = LANES.get(store.dialect, 1)
        self._capacity = handoff_limit
        self._consuming = False
        self._stale = True  # the table may hold rows not in the queue: sweep it
        self._swept = 0.0
        self._sweep_after = 0  # where the next sweep reads on while the queue is busy
        self.handed_off = 0  # counters, for tests and the bench
        self.swept = 0

    def wake(self) -> None:
        """Something was just written to the outbox: look now rather than at the next poll."""
        self._stale = True
        self._wake.set()

    def handoff(self, emitted: Emitted) -> None:
        """Committed outbox rows of this process, as (row id, event): consumed from memory.

        Only while this node consumes (a standby's rows are the elected node's to read),
        and only up to the queue's bound: the rest is left to a sweep of the table.
        """
        if not emitted:
            return
        if not self._consuming:
            return
        room = self._capacity - len(self._queue)
        if room < len(emitted):
            self._stale = True
            emitted = emitted[: max(0, room)]
        if self._swept_ids:  # a sweep took some first (their commit raced it)
            emitted = [item for item in emitted if item[0] not in self._swept_ids]
        self._queue.extend(emitted)
        self._queued.update(row_id for row_id, _ in emitted)
        self._wake.set()

    async def append(self, events: Sequence[Event]) -> None:
        async with self._store.units(collect=True) as uow:
            await uow.emit(events, self._clock.now())
        self.handoff(uow.emitted)
        self._wake.set()

    async def consume(self, consumer: str, handle: BatchHandler) -> None:
        """Consume until cancelled; a lost store connection costs a pause, not the loop."""
        while True:
            try:
                if self._store.dialect == "postgresql":
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
        # Another node consuming holds it; this one takes over when that one stops.
        async with self._store.advisory_lock(CONSUMER_LOCK) as lock:
            work = asyncio.create_task(self._consume(handle))
            try:
                while not work.done():
                    await asyncio.wait({work}, timeout=LOCK_CHECK_SECONDS)
                    if not work.done():
                        await lock.check()
                work.result()  # it only ends by raising
            finally:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work

    async def _consume(self, handle: BatchHandler) -> None:
        self._queue.clear()  # anything handed over before is in the table: swept again
        self._queued.clear()
        self._stale = True
        self._consuming = True
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                batch = self._next_handed()
                if not batch and (not running or self._sweep_due()):
                    # (While batches are in flight the table waits its turn, as behind
                    # a busy queue.) A sweep that finds only queued rows leaves the
                    # queue to go on.
                    batch = await self._sweep() or self._take()
                if not batch:
                    self._wake.clear()
                    waiter = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait({waiter, *running}, timeout=POLL_SECONDS, return_when=FIRST)
                    waiter.cancel()
                    running = await self._reap(running, block=False)
                    continue
                self._busy.update(row_id for row_id, _ in batch)
                running.add(asyncio.create_task(self._run(batch, handle)))
                running = await self._reap(running, block=len(running) >= self._lanes)
        finally:
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._consuming = False
            self._queue.clear()
            self._queued.clear()
            self._busy.clear()

    async def _reap(
        self, running: set[asyncio.Task[None]], *, block: bool
    ) -> set[asyncio.Task[None]]:
        """Collect finished batches (waiting for one when every lane is busy); a batch
        that raised (the store lost) ends the consumer, as the caller resumes it."""
        if block:
            await asyncio.wait(running, return_when=FIRST)
        for task in [t for t in running if t.done()]:
            running.discard(task)
            task.result()
        return running

    async def _run(self, batch: list[tuple[int, Event]], handle: BatchHandler) -> None:
        """One batch: the handler, then its outcomes settled."""
        try:
            received = []
            for row_id, event in batch:
                attempt = self._attempts.get(row_id, 0) + 1
                self._attempts[row_id] = attempt
                received.append(Received(event, attempt))
            try:
                results = list(await handle(received))
            except Exception:
                log.exception("event handler failed for a batch of %d; retrying", len(batch))
                results = []
            await self._settle([row_id for row_id, _ in batch], received, results)
        finally:
            self._busy.difference_update(row_id for row_id, _ in batch)

    def _next_handed(self) -> list[tuple[int, Event]]:
        """Up to a batch from the hand-off queue, unless the table is due a sweep."""
        if not self._queue:
            return []
        if self._sweep_due():
            return []
        return self._take()

    def _sweep_due(self) -> bool:
        return self._stale or time.monotonic() - self._swept >= SWEEP_SECONDS

    def _take(self) -> list[tuple[int, Event]]:
        taken = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
        self._queued.difference_update(row_id for row_id, _ in taken)
        self.handed_off += len(taken)
        return taken

    async def _sweep(self) -> list[tuple[int, Event]]:
        """Due rows from the table that are not in the queue, a page at a time.

        With the queue empty every sweep starts at the oldest row. While it is not, the
        queued rows fill the table's head, so a sweep reads the next page after the last
        one instead of the same head again (rows behind the queue are reached within
        a few sweeps; a row committed late below the cursor at the next start over).
        """
        now = time.monotonic()
        self._swept = now
        self._stale = False
        after = self._sweep_after if self._queue else 0
        waiting = {row_id for row_id, at in self._not_before.items() if at > now}
        # Taken before the read: a batch settled while it runs deleted its rows after the
        # read's snapshot, and must not come back from it.
        waiting |= self._busy
        limit = self._batch + len(waiting)  # room past the rows left out
        rows = await self._store.page(after, limit)
        self._sweep_after = rows[-1][0] if len(rows) == limit else 0
        found = [
            (row_id, decode_trusted(payload))
            for row_id, payload in rows
            if row_id not in waiting and row_id not in self._queued and row_id not in self._busy
        ]
        self.swept += len(found)
        for row_id, _ in found:
            self._swept_ids.add(row_id)
            self._swept_order.append(row_id)
        while len(self._swept_order) > self._capacity:
            self._swept_ids.discard(self._swept_order.popleft())
        return found

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
        await self._store.settle(
            finished,
            [_dead_letter(r, why, now) for _, r, why in dead],
            [_audit_entry(r, why, now) for _, r, why in dead],
        )
        EVENTS_DEAD_LETTERED.inc(len(dead))
        for _, item, why in dead:
            log.error("event %s (%s) dead-lettered: %s", item.event.id, item.event.type, why)
        for row_id in finished:
            self._attempts.pop(row_id, None)
            self._not_before.pop(row_id, None)

    async def ping(self) -> None:
        await self._store.ping()

    # -- dead letters (kefu.events.dead_letters.DeadLetters) ------------------------------

    async def dead_letters(self, limit: int = 100, after: int = 0) -> list[DeadLetter]:
        return [_letter(row) for row in await self._store.dead_letters(after, limit)]

    async def dead_letter(self, sequence: int) -> DeadLetter | None:
        row = await self._store.dead_letter(sequence)
        return _letter(row) if row is not None else None

    async def replay_dead_letter(self, sequence: int) -> DeadLetter:
        """The letter's event back into the outbox and the letter gone, in one
        transaction: replayed once, however many admins click at once."""
        letter = await self.dead_letter(sequence)
        if letter is None:
            raise _no_letter(sequence)
        event = replayable(letter)
        async with self._store.units(collect=True) as uow:
            await self._remove(uow, sequence)
            await uow.emit([event], self._clock.now())
        self.handoff(uow.emitted)
        self.wake()
        return letter

    async def discard_dead_letter(self, sequence: int) -> DeadLetter:
        letter = await self.dead_letter(sequence)
        if letter is None:
            raise _no_letter(sequence)
        async with self._store.units() as uow:
            await self._remove(uow, sequence)
        return letter

    async def _remove(self, uow: StoreUnitOfWork, sequence: int) -> None:
        if not await uow.dead_letters.remove(sequence):
            raise _no_letter(sequence)  # replayed or discarded since it was read

    async def close(self) -> None:
        return None


def _no_letter(sequence: int) -> NotFound:
    return NotFound(f"no dead letter {sequence}", code="dead_letter_not_found")


def _dead_letter(item: Received, reason: str, now: datetime) -> dict[str, object]:
    """The ``dead_letters`` row: the whole event, so it can be replayed."""
    return {
        "subject": item.event.subject,
        "event_id": item.event.id,
        "payload": encode(item.event),
        "reason": reason[:2000],
        "attempts": item.attempt,
        "dead_at": now,
    }


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        sequence=int(row.id),
        subject=DEAD_LETTER_PREFIX + row.subject.removeprefix(SUBJECT_PREFIX),
        original_subject=row.subject,
        event_id=row.event_id,
        reason=row.reason,
        attempts=int(row.attempts),
        payload=bytes(row.payload),
        at=row.dead_at,
    )


def _audit_entry(item: Received, reason: str, now: datetime) -> dict[str, object]:
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
