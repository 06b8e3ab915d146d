"""Group commit for small independent writes that arrive in bursts.

A flash sale opens thousands of chats in a second. Each visitor session is one small row,
and a transaction per row spends its time on the commit (SQLite's single writer, or a
PostgreSQL WAL flush), not on the row. Here the rows that arrive while one commit is under
way wait for it and then go together in the next transaction: one visitor alone pays one
commit, as before; a thousand pay a handful. Nothing lingers on purpose, so a quiet node
adds no latency.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Submit items; each returns once the transaction that wrote it committed.

    ``write(items)`` writes a batch in one transaction. A batch that fails is written
    again item by item, so one bad row fails alone (its submitter gets the error) and a
    transient fault costs a retry instead of everyone's error.
    """

    def __init__(
        self, write: Callable[[Sequence[T]], Awaitable[None]], *, what: str, max_batch: int = 500
    ) -> None:
        self._write = write
        self._what = what
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written, for metrics and tests

    async def submit(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)  # no "never retrieved" noise if the caller left
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name=f"kefu-{self._what}-commit")
        # Shielded: a caller that gives up (its client went away) leaves the batch alone.
        await asyncio.shield(future)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write_isolating(batch)
        finally:
            self._flusher = None

    async def _write_isolating(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        self.batches += 1
        try:
            await self._write([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.warning("a batch of %d %s failed; writing them one by one", len(batch), self._what)
            for item, future in batch:
                try:
                    await self._write([item])
                except Exception as alone:
                    _settle(future, alone)
                else:
                    _settle(future, None)
        else:
            for _, future in batch:
                _settle(future, None)


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
