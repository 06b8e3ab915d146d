"""The store waits for aiosqlite's threads before its event loop may close.

SQLAlchemy ends a pooled aiosqlite connection whose task was cancelled mid-query with
aiosqlite's ``stop()``, without waiting. The thread then finishes its query and hands
the result to the loop; once the loop has closed, that raises inside the thread
(``kefu.store.sqlite_threads``). These tests put a real aiosqlite thread in exactly that
state, and check that the store's exit waits for it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from types import SimpleNamespace

import aiosqlite
import sqlalchemy as sa

from kefu.store.database import Database
from kefu.store.sqlite_threads import SqliteWorkerThreads

# Seconds of work for SQLite's one thread: long enough to outlive everything below.
SLOW = (
    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000)"
    " SELECT count(*) FROM n"
)


async def test_a_stopped_connection_mid_query_is_waited_for(tmp_path: Path) -> None:
    threads = SqliteWorkerThreads(Database(f"sqlite:///{tmp_path / 'k.db'}").engine)
    conn = await aiosqlite.connect(tmp_path / "raw.db")
    threads._connected(SimpleNamespace(_connection=conn), None)  # as the connect event does
    (thread,) = threads.running()

    query = asyncio.create_task(conn.execute(SLOW))
    await asyncio.sleep(0)  # the task runs up to its await: the query is queued
    while conn._tx.qsize():  # until the thread has taken it
        await asyncio.sleep(0.01)
    query.cancel()
    conn.stop()  # what SQLAlchemy's terminate does: no waiting
    assert thread.is_alive()  # still counting

    await threads.finished()

    assert not thread.is_alive()
    assert threads.running() == []
    with contextlib.suppress(asyncio.CancelledError, ValueError):
        await query


async def test_the_store_knows_its_reader_threads_and_ends_them_on_exit(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    async with Database(f"sqlite:///{tmp_path / 'k.db'}") as db:
        async with db.connect() as conn:
            assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
        assert db._reader_threads is not None
        assert len(db._reader_threads.running()) == 1
    assert [
        t for t in threading.enumerate() if t not in before and "connection_worker" in t.name
    ] == []
