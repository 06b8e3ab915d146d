"""Messages: group-commit writer and ordered reader.

Store-then-ack means every chat message waits for a durable commit before its sender
hears back. One commit per message caps a node at the disk's fsync rate; instead a single
writer task takes everything that queued up while the previous commit ran and stores it
in one transaction (group commit). Under light load a batch is one message and latency
is one commit; under heavy load batches grow and throughput follows.

Several lanes may commit side by side (``MessageWriter``): a conversation keeps to one.
How a batch is stored is the store's business (``BatchCommit``): ``sqlite_batch`` runs it
on SQLite's single writer thread, ``postgres_batch`` as a few array-parameter statements
on asyncpg. Both keep the same guarantees: ids sort in storage order within a
conversation, and (sender_id, client_msg_id) is stored once, a resend being answered with
the stored original.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
# How long a busy lane waits for company before committing (like PostgreSQL's
# commit_delay): at 1,500 msg/s on SQLite it cut the node's CPU per message by a quarter
# (commits 5x fewer) for at most a millisecond or two of latency.
LINGER_SECONDS = 0.001


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
    """Owns the writer lanes; ``append`` resolves once the message is committed.

    ``append`` returns ``(message, created)``: ``created`` is False when the
    ``client_msg_id`` was already stored, and ``message`` is then the stored original.

    Each ``BatchCommit`` given is a lane with a queue and a writer task of its own; a
    conversation always goes to the same lane (by its id's hash), so its messages are
    stored one batch after another in the order they came, while lanes commit side by
    side. SQLite has one writer and gets one lane. On PostgreSQL a commit waits for the
    WAL flush (~8 ms on a plain cloud disk): with one lane, a message arriving during a
    commit waits for that one and then its own; with several, conversations in other
    lanes do not wait, their flushes overlap (PostgreSQL flushes concurrent commits
    together), and lanes never contend for a conversation's row lock.
    """

    def __init__(
        self, commit: BatchCommit | Sequence[BatchCommit], *, max_batch: int = MAX_BATCH
    ) -> None:
        commits = [commit] if callable(commit) else list(commit)
        if not commits:
            raise ValueError("a message writer needs at least one lane")
        per_lane = max(1, QUEUE_LIMIT // len(commits))
        self._lanes = [_Lane(c, max_batch, per_lane, n) for n, c in enumerate(commits)]

    async def __aenter__(self) -> MessageWriter:
        for lane in self._lanes:
            lane.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for lane in self._lanes:
            await lane.stop()

    @property
    def backlog(self) -> int:
        return sum(lane.queue.qsize() for lane in self._lanes)

    @property
    def batches(self) -> int:
        return sum(lane.batches for lane in self._lanes)

    @property
    def written(self) -> int:
        return sum(lane.written for lane in self._lanes)

    def lane_of(self, conversation_id: str) -> int:
        """The lane this conversation's messages are committed in (stable per process)."""
        return hash(conversation_id) % len(self._lanes) if len(self._lanes) > 1 else 0

    def _lane(self, conversation_id: str) -> _Lane:
        return self._lanes[self.lane_of(conversation_id)]

    async def append(self, new: NewMessage) -> tuple[Message, bool]:
        lane = self._lane(new.conversation_id)
        future: asyncio.Future[tuple[Message, bool]] = lane.loop.create_future()
        try:
            lane.queue.put_nowait(_Pending(new, future))
        except asyncio.QueueFull:
            raise Unavailable("the store is saturated; retry shortly", code="store_busy") from None
        return await future

    async def append_many(self, news: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
        """Queue several messages of one conversation back to back, so nothing else can be
        stored between them (a visitor's first message and the bot's greeting, say)."""
        if len({new.conversation_id for new in news}) > 1:
            raise ValueError("append_many takes the messages of one conversation")
        if not news:
            return []
        lane = self._lane(news[0].conversation_id)
        queue = lane.queue
        if queue.maxsize - queue.qsize() < len(news):
            raise Unavailable("the store is saturated; retry shortly", code="store_busy")
        futures = []
        for new in news:
            future: asyncio.Future[tuple[Message, bool]] = lane.loop.create_future()
            queue.put_nowait(_Pending(new, future))
            futures.append(future)
        return list(await asyncio.gather(*futures))


class _Lane:
    """One queue, one writer task, one ``BatchCommit``: batches commit one at a time."""

    loop: asyncio.AbstractEventLoop

    def __init__(self, commit: BatchCommit, max_batch: int, limit: int, number: int) -> None:
        self._commit_batch = commit
        self._max_batch = max_batch
        self._number = number
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue(limit)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=f"kefu-message-writer-{self._number}")

    async def stop(self) -> None:
        await self.queue.join()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        busy = False
        while True:
            batch = [await self.queue.get()]
            if busy:
                # Under load (the last batch had company) wait a moment for more: a
                # commit costs about the same thread hand-off and SQLite or PostgreSQL
                # round trip for one message as for ten. Never when messages come one
                # at a time, so a quiet conversation pays nothing.
                await asyncio.sleep(LINGER_SECONDS)
            while len(batch) < self._max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            busy = len(batch) > 1
            try:
                await self._commit_isolating(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _commit_isolating(self, batch: list[_Pending]) -> None:
        """Commit the batch; if it fails, retry its messages one by one: one bad message
        then fails alone instead of taking everyone else's with it, and a transient fault
        (the store connection dropped) costs a retry instead of an error."""
        try:
            await self._commit(batch)
            return
        except Exception:
            log.warning("a batch of %d failed; retrying its messages one by one", len(batch))
        for pending in batch:
            try:
                await self._commit([pending])
            except Exception:
                log.exception("storing a message failed")
                _fail(pending)

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        news = [pending.new for pending in batch]
        results = await self._commit_batch(news)
        self.batches += 1
        metrics.STORE_COMMIT.observe(time.perf_counter() - started)
        metrics.STORE_BATCH.observe(len(batch))
        for pending, result in zip(batch, results, strict=True):
            if result[1]:
                self.written += 1
            if not pending.future.done():
                pending.future.set_result(result)


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
        dataclasses.replace(m, attachments=tuple(by_message[m.id])) if m.id in by_message else m
        for m in found
    ]
