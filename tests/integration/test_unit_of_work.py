"""The store's unit of work (issue 13 item 1), on both stores: events it emits exist
exactly when its transaction committed, callbacks wait for that commit, and a callback
registered on a unit that has ended is an error instead of running at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from kefu.domain.envelope import Event, decode
from kefu.store.database import Database
from kefu.store.tables import outbox
from kefu.store.unit_of_work import StoreUnitOfWork, unit_of_work, unit_of_work_factory

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def db(store_url: str) -> AsyncIterator[Database]:
    async with Database(store_url) as database:
        await database.migrate()
        yield database


async def stored(db: Database) -> list[tuple[int, Event]]:
    async with db.connect() as conn:
        rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.id))).all()
    return [(row.id, decode(row.payload, row.subject)) for row in rows]


def event(n: int) -> Event:
    return Event(id=f"evt_uow_{n}", type="ticket.created", data={"n": n})


async def test_events_and_callbacks_follow_the_commit(db: Database) -> None:
    ran: list[str] = []
    async with unit_of_work_factory(db)() as uow:
        await uow.emit([event(1), event(2)], NOW)
        await uow.emit([], NOW)  # nothing to write: no statement
        uow.after_commit(lambda: ran.append("first"))
        uow.after_commit(lambda: ran.append("second"))
        assert ran == []  # not committed yet
        assert await stored(db) == []  # another connection does not see them yet
    assert ran == ["first", "second"]
    assert [e for _, e in await stored(db)] == [event(1), event(2)]


async def test_a_failure_rolls_back_the_events_and_drops_the_callbacks(db: Database) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError, match="rolled back"):
        async with unit_of_work(db) as uow:
            await uow.emit([event(1)], NOW)
            uow.after_commit(lambda: ran.append("never"))
            raise RuntimeError("rolled back")
    assert ran == []
    assert await stored(db) == []


async def test_after_commit_on_an_ended_unit_is_an_error(db: Database) -> None:
    kept: list[StoreUnitOfWork] = []
    async with unit_of_work(db) as uow:
        kept.append(uow)
    with pytest.raises(RuntimeError, match="already ended"):
        kept[0].after_commit(lambda: None)


async def test_a_failing_callback_does_not_stop_the_rest(db: Database) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("a socket went away")

    async with unit_of_work(db) as uow:
        uow.after_commit(boom)
        uow.after_commit(lambda: ran.append("still"))
    assert ran == ["still"]


async def test_a_collecting_unit_knows_the_ids_of_what_it_emitted(db: Database) -> None:
    async with unit_of_work(db, collect=True) as uow:
        await uow.emit([event(1)], NOW)
        await uow.emit([event(2), event(3)], NOW)
    assert uow.emitted == await stored(db)
    async with unit_of_work(db) as plain:
        await plain.emit([event(4)], NOW)
    assert plain.emitted == []  # not asked to collect: inserted without returning ids
