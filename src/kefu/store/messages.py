"""Messages: group-commit writer and ordered reader.

Store-then-ack means every chat message waits for a durable commit before its sender
hears back. One commit per message caps a node at the disk's fsync rate; instead the
writer takes everything that queued up while the previous commit ran and stores it in
one transaction (group commit). Under light load a batch is one message and latency is
one commit; under heavy load batches grow and throughput follows.

With several committers (``MessageWriter``, PostgreSQL's ``store_write_lanes``) commits
are pipelined: while one batch waits for its WAL flush the next is already being
written on another connection. A conversation is in at most one batch in flight, so its
messages are stored one batch after another in the order they came. How a batch is
stored is the store's business (``BatchCommit``): ``postgres_batch`` runs it as one
array-parameter statement on asyncpg. SQLite has one writer, so it does without this
class: ``sqlite_writer`` lets SQLite's writer thread take the batches itself, with
``sqlite_batch``'s statements. Both keep the same guarantees: ids sort in storage
order within a conversation, and (sender_id, client_msg_id) is stored once, a resend
being answered with the stored original.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from kefu.domain.models import Attachment, Message, NewMessage, Sender, SenderKind
from kefu.errors import Unavailable
from kefu.observability import metrics
from kefu.store.attachments import attachment_from_row
from kefu.store.database import AsyncConnection, Database
from kefu.store.tables import attachments, messages

log = logging.getLogger(__name__)

# Largest batch per commit: keeps one transaction well under 10 ms on SQLite and bounds
# the array parameters sent to PostgreSQL.
MAX_BATCH = 500
# Messages allowed to wait for the writer before senders get ``store_busy`` (back-pressure
# instead of unbounded memory); at 15k msg/s this is ~1.3 s of backlog.
QUEUE_LIMIT = 20_000
# How long a busy writer waits for company before starting a batch (like PostgreSQL's
# commit_delay): at 1,500 msg/s on SQLite it cut the node's CPU per message by a quarter
# (commits 5x fewer) for at most a millisecond or two of latency.
LINGER_SECONDS = 0.001
# The most a batch waits for its turn behind batches in flight (see ``MessageWriter._run``):
# one commit stuck on a row lock must not slow every other conversation down.
MAX_SPACING_SECONDS = 0.005


def message_from_row(row: Any) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        sender=Sender(SenderKind(row.sender_kind), row.sender_id, row.sender_name),
        body=row.body,
        created_at=row.created_at,
        client_msg_id=row.client_msg_id,
        internal=bool(row.internal),
    )


# Stores a batch in one transaction; returns, per message and in order, the stored message
# and whether it is new (False: its client_msg_id was stored before).
BatchCommit = Callable[[Sequence[NewMessage]], Awaitable[list[tuple[Message, bool]]]]


@dataclass(slots=True)
class _Pending:
    new: NewMessage
    future: asyncio.Future[tuple[Message, bool]] = field(repr=False)


class MessageWriter:
    """Batches appends into commits; ``append`` resolves once the message is committed.

    ``append`` returns ``(message, created)``: ``created`` is False when the
    ``client_msg_id`` was already stored, and ``message`` is then the stored original.

    Each ``BatchCommit`` given is a committer (a connection) that stores one batch at a
    time; up to that many batches are in flight at once. On PostgreSQL a commit waits for
    the WAL flush: with one committer, messages arriving meanwhile wait for it and then
    for their own commit; with two or three, the next batch is written while the last
    one flushes (PostgreSQL flushes concurrent commits together). A conversation is in
    at most one batch in flight: its later messages wait for that commit, then go in the
    next batch, so its ids follow its order and batches in flight never contend for a
    conversation's row lock. SQLite has one writer and gets one committer.
    """

    def __init__(
        self, commit: BatchCommit | Sequence[BatchCommit], *, max_batch: int = MAX_BATCH
    ) -> None:
        commits = [commit] if callable(commit) else list(commit)
        if not commits:
            raise ValueError("a message writer needs at least one committer")
        self._max_batch = max_batch
        self._depth = len(commits)
        self._free = commits[::-1]  # pop() takes the most recently freed: few warm ones
        # A conversation's messages not yet in a batch, in the order they came.
        self._waiting: dict[str, deque[_Pending]] = {}
        # Conversations with waiting messages and no batch in flight, oldest first.
        self._ready: deque[str] = deque()
        self._busy: set[str] = set()  # conversations with a batch in flight
        self._backlog = 0
        self._tasks: set[asyncio.Task[None]] = set()  # batches in flight
        self._running = 0  # the same, counted as they finish (before their task ends)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None
        # A commit's recent duration (moving average) and when the last batch started:
        # batches in flight are spaced a fraction of a commit apart (see ``_run``).
        self._commit_s = 0.0
        self._started = 0.0
        self.batches = 0
        self.written = 0

    async def __aenter__(self) -> MessageWriter:
        self._task = asyncio.create_task(self._run(), name="kefu-message-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Everything appended is committed (or failed) before the writer stops."""
        while self._backlog or self._running:
            self._idle = asyncio.Event()
            await self._idle.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def backlog(self) -> int:
        """Messages waiting for a batch (those in a batch in flight not counted)."""
        return self._backlog

    @property
    def in_flight(self) -> int:
        return self._running

    async def append(self, new: NewMessage) -> tuple[Message, bool]:
        if self._backlog >= QUEUE_LIMIT:
            raise Unavailable("the store is saturated; retry shortly", code="store_busy")
        future: asyncio.Future[tuple[Message, bool]] = asyncio.get_running_loop().create_future()
        self._put(_Pending(new, future))
        return await future

    async def append_many(self, news: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
        """Queue several messages of one conversation back to back, so nothing else can be
        stored between them (a visitor's first message and the bot's greeting, say)."""
        if len({new.conversation_id for new in news}) > 1:
            raise ValueError("append_many takes the messages of one conversation")
        if not news:
            return []
        if QUEUE_LIMIT - self._backlog < len(news):
            raise Unavailable("the store is saturated; retry shortly", code="store_busy")
        loop, futures = asyncio.get_running_loop(), []
        for new in news:
            future: asyncio.Future[tuple[Message, bool]] = loop.create_future()
            self._put(_Pending(new, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))

    def _put(self, pending: _Pending) -> None:
        conversation_id = pending.new.conversation_id
        waiting = self._waiting.get(conversation_id)
        if waiting is None:
            self._waiting[conversation_id] = deque((pending,))
            if conversation_id not in self._busy:
                self._ready.append(conversation_id)
        else:
            waiting.append(pending)
        self._backlog += 1
        self._wake.set()

    async def _run(self) -> None:
        company = False
        while True:
            while not (self._ready and self._free):
                self._wake.clear()
                await self._wake.wait()
            # Under load (the last batch had company) wait a moment for more: a commit
            # costs about the same thread hand-off and SQLite or PostgreSQL round trip
            # for one message as for ten. Never when messages come one at a time, so a
            # quiet conversation pays nothing. With batches in flight, the next starts
            # no sooner than a commit's time over the committers after the last one:
            # evenly spaced batches are as large as the pipeline allows.
            pause = LINGER_SECONDS if company else 0.0
            if self._running:
                spacing = min(self._commit_s / self._depth, MAX_SPACING_SECONDS)
                spaced = self._started + spacing - time.perf_counter()
                pause = max(pause, spaced)
            if pause > 0:
                await asyncio.sleep(pause)
            self._started = time.perf_counter()
            batch = self._take()
            company = len(batch) > 1
            self._running += 1
            task = asyncio.create_task(self._commit_isolating(self._free.pop(), batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[_Pending]:
        """The next batch: whole conversations, oldest waiting first, up to max_batch;
        each one taken is busy until the batch is committed."""
        batch: list[_Pending] = []
        room = self._max_batch
        while self._ready and room:
            conversation_id = self._ready.popleft()
            self._busy.add(conversation_id)
            waiting = self._waiting[conversation_id]
            if len(waiting) <= room:
                del self._waiting[conversation_id]
                batch.extend(waiting)
            else:
                batch.extend(waiting.popleft() for _ in range(room))
            room = self._max_batch - len(batch)
        self._backlog -= len(batch)
        return batch

    async def _commit_isolating(self, commit: BatchCommit, batch: list[_Pending]) -> None:
        """Commit the batch; if it fails, retry its messages one by one: one bad message
        then fails alone instead of taking everyone else's with it, and a transient fault
        (the store connection dropped) costs a retry instead of an error. Its
        conversations stay busy until then, so nothing of theirs overtakes a retry."""
        try:
            try:
                await self._commit(commit, batch)
                return
            except Exception:
                log.warning("a batch of %d failed; retrying its messages one by one", len(batch))
            for pending in batch:
                try:
                    await self._commit(commit, [pending])
                except Exception:
                    log.exception("storing a message failed")
                    _fail(pending)
        finally:
            for pending in batch:
                _fail(pending)  # only those left unanswered: the commit was cancelled
            self._done(commit, batch)

    async def _commit(self, commit: BatchCommit, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        results = await commit([pending.new for pending in batch])
        self.batches += 1
        took = time.perf_counter() - started
        self._commit_s += (took - self._commit_s) * 0.2
        metrics.STORE_COMMIT.observe(took)
        metrics.STORE_BATCH.observe(len(batch))
        for pending, result in zip(batch, results, strict=True):
            if result[1]:
                self.written += 1
            if not pending.future.done():
                pending.future.set_result(result)

    def _done(self, commit: BatchCommit, batch: list[_Pending]) -> None:
        self._free.append(commit)
        self._running -= 1
        for pending in batch:
            conversation_id = pending.new.conversation_id
            if conversation_id in self._busy:
                self._busy.discard(conversation_id)
                if conversation_id in self._waiting:
                    self._ready.append(conversation_id)
        self._wake.set()
        if self._idle is not None and not self._backlog and not self._running:
            self._idle.set()


def _fail(pending: _Pending) -> None:
    if not pending.future.done():
        pending.future.set_exception(
            Unavailable("the store failed to save the message", code="store_error")
        )


class MessageReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def after(
        self, conversation_id: str, after_id: int, limit: int, *, notes: bool = True
    ) -> list[Message]:
        """Oldest first, strictly after ``after_id``; ``notes=False`` for a visitor's
        eyes (private notes left out)."""
        query = (
            messages.select()
            .where(messages.c.conversation_id == conversation_id)
            .where(messages.c.id > after_id)
            .order_by(messages.c.id)
            .limit(limit)
        )
        if not notes:
            query = query.where(messages.c.internal.is_(False))
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
            found = [message_from_row(row) for row in rows]
            return await _with_attachments(conn, found)

    async def get(self, message_id: int) -> Message | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(messages.select().where(messages.c.id == message_id))).first()
            if row is None:
                return None
            return (await _with_attachments(conn, [message_from_row(row)]))[0]

    async def before(
        self, conversation_id: str, before_id: int, limit: int, *, notes: bool = True
    ) -> list[Message]:
        """The ``limit`` messages just below ``before_id``, oldest first: a console opens
        on the latest page and loads older ones as the agent scrolls up."""
        query = (
            messages.select()
            .where(messages.c.conversation_id == conversation_id)
            .where(messages.c.id < before_id)
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        if not notes:
            query = query.where(messages.c.internal.is_(False))
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
            found = [message_from_row(row) for row in reversed(rows)]
            return await _with_attachments(conn, found)


async def _with_attachments(conn: AsyncConnection, found: list[Message]) -> list[Message]:
    """Fill in each message's attachments with one query per page (none for text-only
    pages is not knowable without it; the index on ``message_id`` keeps it cheap)."""
    if not found:
        return found
    query = (
        attachments.select()
        .where(attachments.c.message_id.in_([m.id for m in found]))
        .order_by(attachments.c.created_at, attachments.c.id)
    )
    rows = (await conn.execute(query)).all()
    if not rows:
        return found
    by_message: dict[int, list[Attachment]] = {}
    for row in rows:
        by_message.setdefault(row.message_id, []).append(attachment_from_row(row))
    return [
        msgspec.structs.replace(m, attachments=tuple(by_message[m.id])) if m.id in by_message else m
        for m in found
    ]
