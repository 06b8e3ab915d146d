"""SQLite's message writer (kefu.store.sqlite_writer): the writer thread takes the batches.

On a real migrated SQLite file: a conversation's messages are stored in the order they
were appended however they are batched; a message that cannot be stored fails alone and
the rest of its batch is stored; past its limit the writer refuses with ``store_busy``
and stores nothing of the refused; leaving the context answers everything appended; and
other work on the writer thread still runs while messages stream in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kefu.clock import SystemClock
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.errors import Unavailable
from kefu.store.database import Database
from kefu.store.repositories import Repositories
from kefu.store.sqlite_writer import LINGER_ENOUGH, SqliteMessageWriter
from tests.support.sqlite import copy_of

CLOCK = SystemClock()


async def _conversations(db: Database, count: int) -> list[tuple[str, str]]:
    repos = Repositories.over(db)
    found = []
    for _ in range(count):
        visitor = await repos.visitors.create(now=CLOCK.now())
        conversation = await repos.conversations.create(visitor.id, CLOCK.now())
        found.append((conversation.id, visitor.id))
    return found


def _new(conversation_id: str, visitor_id: str, n: int) -> NewMessage:
    sender = Sender(SenderKind.VISITOR, visitor_id, None)
    return NewMessage(conversation_id, sender, f"message {n}", CLOCK.now(), f"c{n}")


@contextlib.asynccontextmanager
async def writer_thread_held(db: Database) -> AsyncIterator[None]:
    """Inside, a job of the test's keeps the writer thread busy: what is appended meanwhile
    waits, all of it there when the writer takes its next batch (after the block)."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Event()
    held = loop.create_future()

    def hold(conn: Connection) -> bool:
        loop.call_soon_threadsafe(held.set_result, None)
        asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
        return False

    db.post_to_writer(hold)
    await held
    try:
        yield
    finally:
        gate.set()


@pytest.fixture
def url(sqlite_template: Path, tmp_path: Path) -> str:
    return copy_of(sqlite_template, tmp_path / "kefu.db")


async def test_each_conversation_is_stored_in_append_order(url: str) -> None:
    async with Database(url) as db:
        conversations = await _conversations(db, 7)
        async with SqliteMessageWriter(db) as writer:
            news = [_new(*conversations[n % 7], n) for n in range(1500)]
            results = await asyncio.gather(*(writer.append(new) for new in news))
            assert all(created for _, created in results)
            assert 1 < writer.batches < 1500 and writer.written == 1500
        repos = Repositories.over(db)
        for conversation_id, _ in conversations:
            stored = await repos.messages.after(conversation_id, 0, 1000)
            appended = [new.body for new in news if new.conversation_id == conversation_id]
            assert [m.body for m in stored] == appended
            assert [m.id for m in stored] == sorted(m.id for m in stored)


async def test_a_message_that_cannot_be_stored_fails_alone(url: str) -> None:
    async with Database(url) as db:
        ((conversation_id, visitor_id),) = await _conversations(db, 1)
        async with SqliteMessageWriter(db) as writer:
            good = [_new(conversation_id, visitor_id, n) for n in range(5)]
            # No such conversation: the foreign key refuses it, and with it its batch.
            bad = _new("cnv_missing", visitor_id, 99)
            results = await asyncio.gather(
                *(writer.append(new) for new in [*good[:3], bad, *good[3:]]),
                return_exceptions=True,
            )
        refused = results[3]
        assert isinstance(refused, Unavailable) and refused.code == "store_error"
        stored = [r for i, r in enumerate(results) if i != 3]
        assert all(not isinstance(r, BaseException) and r[1] for r in stored)
        messages = await Repositories.over(db).messages.after(conversation_id, 0, 100)
        assert [m.body for m in messages] == [new.body for new in good]


async def test_past_its_limit_the_writer_refuses_and_stores_none_of_the_refused(
    url: str,
) -> None:
    async with Database(url) as db:
        ((conversation_id, visitor_id),) = await _conversations(db, 1)
        async with SqliteMessageWriter(db, limit=3) as writer:
            # The writer thread is held until the test has queued past the limit.
            async with writer_thread_held(db):
                queued = [
                    asyncio.ensure_future(writer.append(_new(conversation_id, visitor_id, n)))
                    for n in range(3)
                ]
                await asyncio.sleep(0)  # the three appends run up to their wait
                assert writer.backlog == 3
                with pytest.raises(Unavailable) as refused:
                    await writer.append(_new(conversation_id, visitor_id, 3))
                assert refused.value.code == "store_busy"
                with pytest.raises(Unavailable):
                    await writer.append_many([_new(conversation_id, visitor_id, 4)])
            assert all(created for _, created in await asyncio.gather(*queued))
        messages = await Repositories.over(db).messages.after(conversation_id, 0, 100)
        assert [m.body for m in messages] == ["message 0", "message 1", "message 2"]


async def test_leaving_answers_everything_appended(url: str) -> None:
    async with Database(url) as db:
        ((conversation_id, visitor_id),) = await _conversations(db, 1)
        async with SqliteMessageWriter(db) as writer:
            pending = [
                asyncio.ensure_future(writer.append(_new(conversation_id, visitor_id, n)))
                for n in range(200)
            ]
            await asyncio.sleep(0)
        # Out of the context: every append was answered, none is left waiting.
        assert all(task.done() for task in pending)
        assert sum(task.result()[1] for task in pending) == 200


async def test_other_writer_jobs_run_while_messages_stream_in(url: str) -> None:
    async with Database(url) as db:
        ((conversation_id, visitor_id),) = await _conversations(db, 1)
        async with db.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE side (x INTEGER)"))

        def side_job(conn: Connection) -> int:
            conn.execute(sa.text("INSERT INTO side VALUES (1)"))
            return 1

        async with SqliteMessageWriter(db) as writer:
            stream = asyncio.gather(
                *(writer.append(_new(conversation_id, visitor_id, n)) for n in range(3000))
            )
            # Queued behind the first batch job: it must not wait for all 3,000 messages.
            assert await db.run_in_transaction(side_job) == 1
            assert not stream.done()
            await stream
        assert writer.written == 3000


async def test_a_writer_with_enough_waiting_commits_without_lingering(url: str) -> None:
    """Under load the writer thread waits for company before a commit, unless
    ``LINGER_ENOUGH`` messages wait already. With a 30 s linger, a burst of that size
    queued behind a batch that had company is stored at once; had the writer lingered,
    the 20 s guard fails the test (and the linger's end lets it leave)."""
    async with Database(url) as db:
        ((conversation_id, visitor_id),) = await _conversations(db, 1)

        async def queued_while_the_thread_is_held(count: int, first: int) -> list[Any]:
            """Appends ``count`` messages while the writer thread is held, so they all
            wait when the writer's next batch is taken."""
            async with writer_thread_held(db):
                appends = [
                    asyncio.ensure_future(writer.append(_new(conversation_id, visitor_id, n)))
                    for n in range(first, first + count)
                ]
                await asyncio.sleep(0)  # the appends run up to their wait
                assert writer.backlog == count
            async with asyncio.timeout(20):  # a hang guard, not a timing
                return list(await asyncio.gather(*appends))

        async with SqliteMessageWriter(db, linger=30.0) as writer:
            # Two in one batch: it had company, so the next batch may linger ...
            await queued_while_the_thread_is_held(2, 0)
            assert writer.batches == 1
            # ... but not with LINGER_ENOUGH waiting.
            results = await queued_while_the_thread_is_held(LINGER_ENOUGH, 2)
            assert all(created for _, created in results)
            assert writer.batches == 2 and writer.written == 2 + LINGER_ENOUGH
