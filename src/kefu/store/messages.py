"""Messages: group-commit writer and ordered reader.

Store-then-ack means every chat message waits for a durable commit before its sender
hears back. One commit per message caps a node at the disk's fsync rate; instead a single
writer task takes everything that queued up while the previous commit ran and stores it
in one transaction (group commit). Under light load a batch is one message and latency
is one commit; under heavy load batches grow and throughput follows.

Ordering: ids come from one sequence. On PostgreSQL the conversations touched by a
batch are locked (``FOR UPDATE``, in id order so two nodes cannot deadlock) before the
insert, so within a conversation a later commit always gets a larger id and ``resume``
after an id can never miss a message committed late.

Idempotency: (sender_id, client_msg_id) is unique. Duplicates are found before the insert
(and inside one batch); a race between two nodes surfaces as a unique violation, and the
batch is retried once, when the pre-check finds the winner's row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.models import Message, NewMessage, Sender, SenderKind
from kefu.errors import Unavailable
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


@dataclass(slots=True)
class _Pending:
    new: NewMessage
    future: asyncio.Future[tuple[Message, bool]] = field(repr=False)


class MessageWriter:
    """Owns the writer task; ``append`` resolves once the message is committed.

    ``append`` returns ``(message, created)``: ``created`` is False when the
    ``client_msg_id`` was already stored, and ``message`` is then the stored original.
    """

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
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
        for attempt in (1, 2):
            try:
                async with self._db.begin() as conn:
                    results = await self._write(conn, batch)
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            break
        self.batches += 1
        for pending, result in zip(batch, results, strict=True):
            if result[1]:
                self.written += 1
            if not pending.future.done():
                pending.future.set_result(result)

    async def _write(
        self, conn: AsyncConnection, batch: Sequence[_Pending]
    ) -> list[tuple[Message, bool]]:
        existing = await _existing(conn, batch)
        results: list[tuple[Message, bool] | None] = [None] * len(batch)
        to_insert: list[tuple[int, NewMessage]] = []
        seen: dict[tuple[str, str], int] = {}
        copies: dict[int, int] = {}
        for index, pending in enumerate(batch):
            new = pending.new
            key = (new.sender.id or "", new.client_msg_id) if new.client_msg_id else None
            if key is not None and key in existing:
                results[index] = (existing[key], False)
            elif key is not None and key in seen:
                copies[index] = seen[key]  # resolved below, from the first copy in this batch
            else:
                if key is not None:
                    seen[key] = index
                to_insert.append((index, new))

        if to_insert:
            conversation_ids = sorted({new.conversation_id for _, new in to_insert})
            if self._db.dialect == "postgresql":
                await conn.execute(
                    sa.select(conversations.c.id)
                    .where(conversations.c.id.in_(conversation_ids))
                    .order_by(conversations.c.id)
                    .with_for_update()
                )
            rows = [_row(new) for _, new in to_insert]
            ids = (
                (
                    await conn.execute(
                        messages.insert().returning(messages.c.id, sort_by_parameter_order=True),
                        rows,
                    )
                )
                .scalars()
                .all()
            )
            last: dict[str, tuple[int, Any]] = {}
            for (index, new), message_id in zip(to_insert, ids, strict=True):
                results[index] = (_message(message_id, new), True)
                last[new.conversation_id] = (message_id, new.created_at)
            await conn.execute(
                conversations.update()
                .where(conversations.c.id == sa.bindparam("cid"))
                .values(last_message_id=sa.bindparam("mid"), updated_at=sa.bindparam("at")),
                [{"cid": cid, "mid": mid, "at": at} for cid, (mid, at) in last.items()],
            )

        for index, first in copies.items():
            original = results[first]
            if original is not None:
                results[index] = (original[0], False)
        done = [result for result in results if result is not None]
        if len(done) != len(batch):
            raise RuntimeError("group commit lost track of a message")  # a bug, not bad input
        return done


async def _existing(
    conn: AsyncConnection, batch: Sequence[_Pending]
) -> dict[tuple[str, str], Message]:
    keys = {(p.new.sender.id or "", p.new.client_msg_id) for p in batch if p.new.client_msg_id}
    if not keys:
        return {}
    query = messages.select().where(
        sa.tuple_(messages.c.sender_id, messages.c.client_msg_id).in_(list(keys))
    )
    found = (await conn.execute(query)).all()
    return {(row.sender_id, row.client_msg_id): message_from_row(row) for row in found}


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
