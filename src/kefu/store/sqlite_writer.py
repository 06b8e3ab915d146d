"""SQLite's group commit without an asyncio writer: the writer thread takes the batches.

``MessageWriter`` (``kefu.store.messages``) batches on the event loop: a message goes
through a queue and a writer task, whose batch is then handed to SQLite's writer thread
and answered through a second future. Measured here (issue 17), that machinery cost the
loop ~10 us per message at ten messages a batch, about a tenth of everything kefu spent
on a chat message. SQLite has exactly one writer anyway, so here the loop only appends
to a deque and wakes the writer thread when it is idle; the thread takes everything
waiting (up to ``MAX_BATCH``), commits it with ``write_batch_sqlite`` and answers the
whole batch with one callback on the loop.

The guarantees are ``MessageWriter``'s: one FIFO and one thread, so a conversation's
messages are stored in the order they came; a resend is answered with the stored
original; a failed batch is retried message by message, so one bad message fails alone;
more than ``QUEUE_LIMIT`` waiting messages are refused with ``store_busy``; and leaving
the context waits until everything appended is committed or failed.

Each batch is one job on the writer thread, queued behind the jobs already there (a
visitor insert, a saga step), so a steady stream of messages never starves them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from kefu.domain.models import Message, NewMessage
from kefu.errors import Unavailable
from kefu.observability import metrics
from kefu.store.database import Database
from kefu.store.messages import MAX_BATCH, QUEUE_LIMIT
from kefu.store.sqlite_batch import write_batch_sqlite
from kefu.store.sqlite_transaction import in_transaction

log = logging.getLogger(__name__)

# How long a busy writer thread waits for company before taking a batch (``_job``); 3 ms,
# not ``MessageWriter``'s 1 ms: a SQLite commit costs ~137 us of CPU beyond its messages'
# ~55 (``python -m bench.sqlite_commit --cost``), and at the rates issue 17 asks for the
# node's CPU runs out long before 2 ms more of waiting matters. At 3,000 msg/s
# (relay_probe, 2026-12-07 13:34-13:44 UTC, load 0.4-3.3): batches of ~14-20 instead of
# ~8, server CPU 118-127 us/msg vs 127-160 with 1 ms (bench/README.md, "Chat relay").
LINGER_SECONDS = 0.003
# ... unless this many messages already wait: a commit's own cost is then spread thin
# (~137 us over 24 messages: ~6 us each), and waiting would only add to their latency.
# At 10,000 msg/s a 2 ms commit leaves ~20 behind it. relay_probe 10,000 msg/s on SQLite,
# alternating, 21:41-21:47 UTC 2026-12-07: p99 14-28 ms (one run 82) against 20-43 ms
# always lingering, the same CPU per message (58-68 us).
LINGER_ENOUGH = 24

Result = tuple[Message, bool]
_Pending = tuple[NewMessage, "asyncio.Future[Result]"]


class SqliteMessageWriter:
    """``append`` resolves once the message is committed: ``(message, created)``, with
    ``created`` False when its ``client_msg_id`` was stored before (``message`` is then
    the stored original)."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = MAX_BATCH,
        limit: int = QUEUE_LIMIT,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._limit = limit
        self._linger = linger
        self._pending: deque[_Pending] = deque()
        # True while a batch job is queued or running on the writer thread: an append
        # then needs no wake-up, the job takes it (see ``_job``).
        self._scheduled = False
        self._company = False  # the last batch had more than one message
        # Batches taken by the thread and answered on the loop: different between the two.
        self._taken = 0
        self._answered = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: asyncio.Future[None] | None = None
        self.batches = 0
        self.written = 0

    async def __aenter__(self) -> SqliteMessageWriter:
        self._loop = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Everything appended is committed (or failed) before the writer stops."""
        while self._busy():
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle

    @property
    def backlog(self) -> int:
        """Messages waiting for a batch."""
        return len(self._pending)

    async def append(self, new: NewMessage) -> Result:
        if len(self._pending) >= self._limit:
            raise Unavailable("the store is saturated; retry shortly", code="store_busy")
        loop = self._loop or asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((new, future))
        if not self._scheduled:
            self._schedule()
        return await future

    async def append_many(self, news: Sequence[NewMessage]) -> list[Result]:
        """Several messages of one conversation back to back, so nothing else is stored
        between them (a visitor's first message and the bot's greeting, say)."""
        if len({new.conversation_id for new in news}) > 1:
            raise ValueError("append_many takes the messages of one conversation")
        if not news:
            return []
        if self._limit - len(self._pending) < len(news):
            raise Unavailable("the store is saturated; retry shortly", code="store_busy")
        loop = self._loop or asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = [loop.create_future() for _ in news]
        self._pending.extend(zip(news, futures, strict=True))
        if not self._scheduled:
            self._schedule()
        return list(await asyncio.gather(*futures))

    def _schedule(self) -> None:
        self._scheduled = True
        self._db.post_to_writer(self._job)

    # ---- on the writer thread ------------------------------------------------------------

    def _job(self, conn: Connection) -> bool:
        """Take and commit one batch, answer it on the loop, and queue the next job if
        more is waiting. Returns True when the connection failed (a fresh one is used)."""
        if self._company and self._linger > 0 and len(self._pending) < LINGER_ENOUGH:
            # Under load (the last batch had company) wait a moment for more: a commit
            # costs about the same for one message as for ten. Never when messages come
            # one at a time, nor when enough wait already. Off the loop: the loop keeps
            # appending meanwhile.
            time.sleep(self._linger)
        # From here an append schedules another job: this one may not see its message.
        self._scheduled = False
        pending = self._pending
        batch = [pending.popleft() for _ in range(min(len(pending), self._max_batch))]
        broken = False
        if batch:
            self._taken += 1
            self._company = len(batch) > 1
            started = time.perf_counter()
            answers, broken = _commit(conn, [new for new, _ in batch])
            metrics.STORE_COMMIT.observe(time.perf_counter() - started)
            metrics.STORE_BATCH.observe(len(batch))
            self.batches += 1
            created = [answer[0].id for answer in answers if answer is not None and answer[1]]
            self.written += len(created)
            indexer = self._db.search_indexer
            if created and indexer is not None:  # before the answers: see its docstring
                indexer.committed(min(created), len(created))
            self._on_loop(self._answer, batch, answers)
            if indexer is not None and not broken:
                broken = indexer.after_commit(conn)
        if self._pending and not self._scheduled:
            self._schedule()  # behind whatever else the writer thread was asked meanwhile
        elif not batch and self._idle is not None:
            self._on_loop(self._wake_idle)
        return broken

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed: nobody is left to answer
            log.warning("the event loop closed before a batch of messages was answered")

    # ---- back on the loop ------------------------------------------------------------------

    def _answer(self, batch: list[_Pending], answers: list[Result | None]) -> None:
        self._answered += 1
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # the sender was cancelled
                continue
            if answer is None:
                future.set_exception(
                    Unavailable("the store failed to save the message", code="store_error")
                )
            else:
                future.set_result(answer)
        self._wake_idle()

    def _wake_idle(self) -> None:
        idle = self._idle
        if idle is not None and not idle.done() and not self._busy():
            idle.set_result(None)

    def _busy(self) -> bool:
        return self._scheduled or bool(self._pending) or self._taken != self._answered


def _commit(conn: Connection, news: list[NewMessage]) -> tuple[list[Result | None], bool]:
    """The batch in one transaction; if that fails, each message in its own, so one bad
    message fails alone and a transient fault costs a retry instead of an error. None
    answers a message that could not be stored; True: the connection failed."""
    try:
        return list(in_transaction(conn, functools.partial(write_batch_sqlite, batch=news))), False
    except Exception:
        log.warning("a batch of %d failed; retrying its messages one by one", len(news))
    answers: list[Result | None] = []
    broken = False
    for new in news:
        try:
            answers.extend(in_transaction(conn, functools.partial(write_batch_sqlite, batch=[new])))
        except Exception:
            log.exception("storing a message failed")
            answers.append(None)
            broken = True
    return answers, broken
