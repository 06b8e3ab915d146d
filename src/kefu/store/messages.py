"""Messages: group-commit writer and ordered reader.

Store-then-ack means every chat message waits for a durable commit before its sender
hears back. One commit per message caps a node at the disk's fsync rate; instead a single
writer task takes everything that queued up while the previous commit ran and stores it
in one transaction (group commit). Under light load a batch is one message and latency
is one commit; under heavy load batches grow and throughput follows.

Each batch is one synchronous function run in one hop (``Database.run_in_transaction``):
on SQLite a dedicated writer thread runs the whole transaction, so a commit does not
wait for the busy event loop between statements.

Ordering: ids come from one sequence. On PostgreSQL the conversations touched by a
batch are locked (``FOR UPDATE``, in id order so two nodes cannot deadlock) before the
insert, so within a conversation a later commit always gets a larger id and ``resume``
after an id can never miss a message committed late.

Idempotency: (sender_id, client_msg_id) is unique; the insert skips conflicting rows and
only those are looked up, so a resend (or a race between two nodes) is answered with the
stored original.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kefu.domain.models import Message, NewMessage, Sender, SenderKind
from kefu.errors import Unavailable
from kefu.observability import metrics
from kefu.store.database import Database
from kefu.store.tables import conversations, messages

log = logging.getLogger(__name__)

# Largest batch per commit: keeps one transaction well under 10 ms on SQLite and bounds
# the statement size for PostgreSQL's insertmanyvalues.
MAX_BATCH = 500
# Messages allowed to wait for the writer before senders get ``store_busy`` (back-pressure
# instead of unbounded memory); at 15k msg/s this is ~1.3 s of backlog.
QUEUE_LIMIT = 20_000


def message_from_row(row: Any) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        sender=Sender(SenderKind(row.sender_kind), row.sender_id, row.sender_name),
        body=row.body,
        created_at=row.created_at,
        client_msg_id=row.client_msg_id,
    )


BatchWrite = Callable[[Connection, Sequence[NewMessage]], list[tuple[Message, bool]]]


@dataclass(slots=True)
class _Pending:
    new: NewMessage
    future: asyncio.Future[tuple[Message, bool]] = field(repr=False)


class MessageWriter:
    """Owns the writer task; ``append`` resolves once the message is committed.

    ``append`` returns ``(message, created)``: ``created`` is False when the
    ``client_msg_id`` was already stored, and ``message`` is then the stored original.
    """

    def __init__(
        self, db: Database, write: BatchWrite | None = None, *, max_batch: int = MAX_BATCH
    ) -> None:
        self._db = db
        self._write: BatchWrite = write or write_batch
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0

    async def __aenter__(self) -> MessageWriter:
        self._task = asyncio.create_task(self._run(), name="kefu-message-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def append(self, new: NewMessage) -> tuple[Message, bool]:
        future: asyncio.Future[tuple[Message, bool]] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(new, future))
        except asyncio.QueueFull:
            raise Unavailable("the store is saturated; retry shortly", code="store_busy") from None
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit(batch)
            except Exception as exc:
                log.exception("message batch of %d failed", len(batch))
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(
                            Unavailable("the store failed to save the message", code="store_error")
                        )
                del exc
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        news = [pending.new for pending in batch]
        results = await self._db.run_in_transaction(self._write, news)
        self.batches += 1
        metrics.STORE_COMMIT.observe(time.perf_counter() - started)
        metrics.STORE_BATCH.observe(len(batch))
        for pending, result in zip(batch, results, strict=True):
            if result[1]:
                self.written += 1
            if not pending.future.done():
                pending.future.set_result(result)


def write_batch(conn: Connection, batch: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
    """Store ``batch`` in the caller's transaction; synchronous so one hop runs it all.

    Messages with a ``client_msg_id`` are inserted with ON CONFLICT DO NOTHING on the
    (sender_id, client_msg_id) key; only the keys that conflicted are then looked up,
    so the common case (no duplicates) costs the insert alone.
    """
    results: list[tuple[Message, bool] | None] = [None] * len(batch)
    fresh, copies = plan_batch(batch)
    keyed = {
        (batch[i].sender.id or "", batch[i].client_msg_id or ""): i
        for i in fresh
        if batch[i].client_msg_id is not None
    }
    plain = [i for i in fresh if batch[i].client_msg_id is None]

    if conn.dialect.name == "postgresql":
        # Lock the conversations (in id order: no deadlock between nodes) so that, within a
        # conversation, a later commit always draws a larger id from the sequence.
        conn.execute(
            sa.select(conversations.c.id)
            .where(conversations.c.id.in_(sorted({new.conversation_id for new in batch})))
            .order_by(conversations.c.id)
            .with_for_update()
        )
    if keyed:
        insert = _dialect_insert(conn)(messages).on_conflict_do_nothing(
            index_elements=["sender_id", "client_msg_id"]
        )
        stored = conn.execute(
            insert.returning(messages.c.id, messages.c.sender_id, messages.c.client_msg_id),
            [_row(batch[index]) for index in keyed.values()],
        ).all()
        for message_id, sender_id, client_msg_id in stored:
            index = keyed.pop((sender_id or "", client_msg_id))
            results[index] = (_message(message_id, batch[index]), True)
        if keyed:  # what is left conflicted: stored earlier, answer with the original
            for key, original in existing_messages(conn, list(keyed)).items():
                results[keyed[key]] = (original, False)
    if plain:
        ids = (
            conn.execute(
                messages.insert().returning(messages.c.id, sort_by_parameter_order=True),
                [_row(batch[index]) for index in plain],
            )
            .scalars()
            .all()
        )
        for index, message_id in zip(plain, ids, strict=True):
            results[index] = (_message(message_id, batch[index]), True)

    last: dict[str, tuple[int, Any]] = {}
    for result in results:
        if result is not None and result[1]:
            stored_message = result[0]
            conversation_id = stored_message.conversation_id
            if stored_message.id > last.get(conversation_id, (0, None))[0]:
                last[conversation_id] = (stored_message.id, stored_message.created_at)
    if last:
        conn.execute(
            conversations.update()
            .where(conversations.c.id == sa.bindparam("cid"))
            .values(last_message_id=sa.bindparam("mid"), updated_at=sa.bindparam("at")),
            [{"cid": cid, "mid": mid, "at": at} for cid, (mid, at) in last.items()],
        )
    for index, first in copies.items():
        first_result = results[first]
        if first_result is not None:
            results[index] = (first_result[0], False)
    done = [result for result in results if result is not None]
    if len(done) != len(batch):
        raise RuntimeError("group commit lost track of a message")  # a bug, not bad input
    return done


def plan_batch(batch: Sequence[NewMessage]) -> tuple[list[int], dict[int, int]]:
    """Split a batch into the indexes to insert, in order, and resends within the batch
    (index -> index of the first copy, which answers for them)."""
    fresh: list[int] = []
    copies: dict[int, int] = {}
    first_of: dict[tuple[str, str], int] = {}
    for index, new in enumerate(batch):
        if new.client_msg_id is not None:
            key = (new.sender.id or "", new.client_msg_id)
            if key in first_of:
                copies[index] = first_of[key]
                continue
            first_of[key] = index
        fresh.append(index)
    return fresh, copies


def _dialect_insert(conn: Connection) -> Callable[[sa.Table], Any]:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def existing_messages(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], Message]:
    """Stored messages for (sender_id, client_msg_id) keys, each an index search."""
    condition = sa.or_(
        *(
            sa.and_(messages.c.sender_id == sender, messages.c.client_msg_id == client)
            for sender, client in keys
        )
    )
    return {
        (row.sender_id, row.client_msg_id): message_from_row(row)
        for row in conn.execute(messages.select().where(condition))
    }


def _row(new: NewMessage) -> dict[str, Any]:
    return {
        "conversation_id": new.conversation_id,
        "sender_kind": new.sender.kind.value,
        "sender_id": new.sender.id,
        "sender_name": new.sender.name,
        "body": new.body,
        "client_msg_id": new.client_msg_id,
        "created_at": new.created_at,
    }


def _message(message_id: int, new: NewMessage) -> Message:
    return Message(
        id=message_id,
        conversation_id=new.conversation_id,
        sender=new.sender,
        body=new.body,
        created_at=new.created_at,
        client_msg_id=new.client_msg_id,
    )


class MessageReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def after(self, conversation_id: str, after_id: int, limit: int) -> list[Message]:
        """Oldest first, strictly after ``after_id``."""
        query = (
            messages.select()
            .where(messages.c.conversation_id == conversation_id)
            .where(messages.c.id > after_id)
            .order_by(messages.c.id)
            .limit(limit)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [message_from_row(row) for row in rows]

    async def get(self, message_id: int) -> Message | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(messages.select().where(messages.c.id == message_id))).first()
        return message_from_row(row) if row else None
