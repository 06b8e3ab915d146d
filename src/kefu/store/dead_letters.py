"""The ``dead_letters`` table as a unit of work changes it (``StoreUnitOfWork.dead_letters``):
replaying or discarding a letter removes it in the same transaction as the replayed
event's outbox row, so a letter is replayed once however many admins click at once.
Reading letters is ``kefu.store.event_log``'s (no transaction needed)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.tables import dead_letters


class DeadLettersInUnit:
    """Dead-letter removal on one unit of work's connection."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def remove(self, sequence: int) -> bool:
        """Delete the letter; False when it was already gone (replayed or discarded)."""
        gone = await self._conn.execute(dead_letters.delete().where(dead_letters.c.id == sequence))
        return gone.rowcount == 1
