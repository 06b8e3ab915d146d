"""aiosqlite's worker threads of one engine, waited for before the event loop may close.

When a task is cancelled in the middle of a query, SQLAlchemy ends that pooled aiosqlite
connection without waiting for it (``AsyncAdapt_terminate``, which calls aiosqlite's
``stop()``). The connection's thread still finishes the query it was running, then hands
the result to the event loop. If the loop has closed by then, the hand-off raises inside
the thread ("Event loop is closed"). This was seen three times in full test runs, each
time in whichever test was running when the thread died. A node's loop stays open while
it serves, but a stopping process, like each test, closes the loop right after the store.
So the store, once its engine is disposed, waits for those threads to end.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# A thread still running this long after the engine was disposed belongs to a connection
# that something never returned; shutdown goes on without it.
WAIT_SECONDS = 5.0


class SqliteWorkerThreads:
    """The aiosqlite threads ``engine`` started; ``finished`` waits for them to end."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        event.listen(engine.sync_engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's adapter holds the aiosqlite connection, which holds its thread.
        aiosqlite_connection = getattr(dbapi_connection, "_connection", None)
        thread = getattr(aiosqlite_connection, "_thread", None)
        if isinstance(thread, threading.Thread):
            self._threads.add(thread)

    def running(self) -> list[threading.Thread]:
        return [thread for thread in self._threads if thread.is_alive()]

    async def finished(self, wait_seconds: float = WAIT_SECONDS) -> None:
        """Off the loop, join every thread still running, for ``wait_seconds`` in all at most
        (a join in a thread: ``asyncio.timeout`` could not cut it short).

        The loop keeps running meanwhile, so a late query result still has a loop to go to.
        """
        running = self.running()
        if not running:
            return
        deadline = time.monotonic() + wait_seconds

        def join_all() -> None:
            for thread in running:
                thread.join(max(0.0, deadline - time.monotonic()))

        await asyncio.to_thread(join_all)
        left = self.running()
        if left:
            log.warning("%d SQLite reader threads were still running at shutdown", len(left))
