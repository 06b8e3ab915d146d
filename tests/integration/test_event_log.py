"""The store event log's hand-off and the bulk inserts under it, on both stores.

Events this process committed reach the consumer from memory; everything else (other
transactions' events, what did not fit the bounded queue, retries, a restart) from the
table. Either way each event is delivered until settled and its row then deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kefu.domain.envelope import Event
from kefu.domain.tickets import Channel, TicketDraft
from kefu.events.log import DONE, Outcome, Received, Result
from kefu.events.outbox import audience
from kefu.events.rules import RuleSettings, compile_rules
from kefu.events.store_log import StoreEventLog
from kefu.store.bulk import insert_rows, insert_with_ids
from kefu.store.database import Database
from kefu.store.event_log import OutboxLogStore
from kefu.store.outbox import emit
from kefu.store.repositories import Repositories
from kefu.store.tables import outbox, ticket_history, tickets
from kefu.store.unit_of_work import unit_of_work_factory
from kefu.tickets.service import SYSTEM, TicketService
from kefu.tickets.settings import TicketSettings

NOW = datetime(2031, 3, 3, 9, 30, 15, 123456, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    async with Database(store_url) as database:
        await database.migrate()
        yield database


def events(prefix: str, count: int) -> list[Event]:
    return [Event(id=f"{prefix}-{n}", type="customer.complaint") for n in range(count)]


class Recorder:
    """A batch handler that records what it was given; RETRY for ids in ``fail_once``."""

    def __init__(self, fail_once: Sequence[str] = ()) -> None:
        self.seen: list[tuple[str, int]] = []
        self.fail_once = set(fail_once)

    async def __call__(self, batch: Sequence[Received]) -> list[Result]:
        results = []
        for item in batch:
            self.seen.append((item.event.id, item.attempt))
            if item.event.id in self.fail_once:
                self.fail_once.discard(item.event.id)
                results.append(Result(Outcome.RETRY, "not yet"))
            else:
                results.append(DONE)
        return results

    def ids(self) -> list[str]:
        return [event_id for event_id, _ in self.seen]


@contextlib.asynccontextmanager
async def consuming(log: StoreEventLog, handle: Recorder) -> AsyncIterator[None]:
    task = asyncio.create_task(log.consume("rules", handle))
    try:
        await asyncio.sleep(0.05)  # the consumer is up (and has swept the table once)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)


async def settled(db: Database) -> bool:
    return not await outbox_ids(db)


async def outbox_ids(db: Database) -> list[int]:
    async with db.connect() as conn:
        return [int(r[0]) for r in await conn.execute(sa.select(outbox.c.id))]


def store_log(db: Database, **options: object) -> StoreEventLog:
    settings: dict[str, object] = {"batch": 50, "max_attempts": 5, "backoff_seconds": [0.05]}
    return StoreEventLog(OutboxLogStore(db), Clock(), **(settings | options))  # type: ignore[arg-type]


async def test_appended_events_are_handed_over_in_memory_and_deleted(db: Database) -> None:
    log, handle = store_log(db), Recorder()
    async with consuming(log, handle):
        for start in range(0, 120, 40):
            await log.append(events("a", 120)[start : start + 40])
        await until(lambda: len(handle.seen) >= 120)
        await until(lambda: settled(db))
    assert sorted(handle.ids()) == sorted(e.id for e in events("a", 120))
    assert log.handed_off + log.swept == 120
    assert log.swept <= 40  # read back from the table only when a sweep beat a hand-off
    assert await outbox_ids(db) == []


async def test_other_transactions_events_and_retries_come_from_the_table(db: Database) -> None:
    log, handle = store_log(db), Recorder(fail_once=["a-1"])
    async with consuming(log, handle):
        async with db.begin() as conn:  # a service's own transaction: no hand-off
            await emit(conn, events("svc", 3), NOW)
        log.wake()
        await log.append(events("a", 3))
        await until(lambda: len(handle.seen) >= 7)
        await until(lambda: settled(db))
    assert sorted(handle.ids()) == ["a-0", "a-1", "a-1", "a-2", "svc-0", "svc-1", "svc-2"]
    assert ("a-1", 2) in handle.seen  # the retry, read back from the table
    assert log.handed_off + log.swept == 7


async def test_past_the_queue_bound_events_wait_in_the_table(db: Database) -> None:
    log, handle = store_log(db, handoff_limit=60), Recorder()
    async with consuming(log, handle):
        await log.append(events("a", 200))  # one commit, more than the queue takes
        await until(lambda: len(handle.seen) >= 200)
        await until(lambda: settled(db))
    assert sorted(handle.ids()) == sorted(e.id for e in events("a", 200))  # each once
    # At most the bound came from memory (fewer when a sweep beat the hand-off to some).
    assert log.handed_off <= 60 and log.handed_off + log.swept == 200
    assert await outbox_ids(db) == []


async def test_events_left_by_a_stopped_consumer_are_read_after_a_restart(db: Database) -> None:
    first = store_log(db)
    await first.append(events("a", 30))  # nobody consuming: nothing queued
    log, handle = store_log(db), Recorder()
    async with consuming(log, handle):
        await until(lambda: len(handle.seen) >= 30)
        await until(lambda: settled(db))
    assert sorted(handle.ids()) == sorted(e.id for e in events("a", 30))
    assert log.swept == 30 and first.handed_off == 0
    assert await outbox_ids(db) == []


async def test_bulk_rows_read_back_as_core_writes_them(db: Database) -> None:
    detail = {"channel": "rule", "status": "new", "priority": "high"}
    ticket = {
        "subject": "s",
        "body": "b",
        "status": "new",
        "priority": "high",
        "channel": "rule",
        "created_at": NOW,
        "updated_at": NOW,
    }
    async with db.begin() as conn:
        (core_id,) = (await conn.execute(tickets.insert().returning(tickets.c.id), ticket)).one()
        columns = tuple(ticket)
        ids = await insert_with_ids(
            conn,
            tickets,
            columns,
            [tuple({**ticket, "subject": f"s{n}"}.values()) for n in range(3)],
        )
        await conn.execute(
            ticket_history.insert(),
            {"ticket_id": core_id, "at": NOW, "actor": None, "action": "core", "detail": detail},
        )
        await insert_rows(
            conn,
            ticket_history,
            ("ticket_id", "at", "actor", "action", "detail"),
            [(core_id, NOW, None, "bulk", detail), (core_id, NOW, "x", "bulk", None)],
        )
    assert ids == sorted(ids) and core_id < ids[0] and len(set(ids)) == 3
    async with db.connect() as conn:
        made = (await conn.execute(sa.select(tickets).order_by(tickets.c.id))).all()
        history = (
            await conn.execute(sa.select(ticket_history).order_by(ticket_history.c.id))
        ).all()
    assert [(r.id, r.subject) for r in made[1:]] == [(i, f"s{n}") for n, i in enumerate(ids)]
    assert all(r.created_at == NOW and r.updated_at == NOW for r in made)
    core, bulk, empty = history
    assert (
        (bulk.at, bulk.detail, bulk.actor)
        == (core.at, core.detail, core.actor)
        == (NOW, detail, None)
    )
    assert (empty.actor, empty.detail) == ("x", None)


async def test_kefu_events_nobody_consumes_are_not_written(db: Database) -> None:
    rule = RuleSettings.model_validate(
        {"name": "c", "on": "customer.complaint", "do": [{"create_ticket": {"subject": "x"}}]}
    )
    rules = compile_rules([rule], set())
    listened = audience("memory://", rules)
    assert listened("customer.complaint") and not listened("ticket.created")
    assert audience("nats://127.0.0.1:4222", rules)("ticket.created")  # the stream's readers
    draft = TicketDraft(subject="s", body="b", customer_key="C-1", channel=Channel.API)
    for who, written in ((listened, 0), (audience("memory://", []), 0), (None, 1)):
        units = unit_of_work_factory(db)
        service = TicketService(
            Repositories.over(db), units, Clock(), TicketSettings(), audience=who
        )
        await service.create(draft, SYSTEM)
        assert len(await outbox_ids(db)) == written
