"""Outbox relay: events kefu committed in its own transactions, published to JetStream.

Rows are published in id order and deleted once JetStream acknowledged them. A crash
between publish and delete publishes them again: JetStream drops the repeat (same
``Nats-Msg-Id`` inside its duplicate window), and consumers dedupe by id anyway. Several
nodes may relay at once for the same reason; none needs to coordinate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from kefu.cancellation import raise_if_cancelled
from kefu.store.outbox import OutboxRepository

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
ERROR_PAUSE_SECONDS = 1.0


class EncodedLog(Protocol):
    async def append_encoded(self, events: Sequence[tuple[str, str, bytes]]) -> None:
        """Durably record (subject, event id, payload) triples, payloads as stored."""
        ...


class OutboxRelay:
    def __init__(self, outbox: OutboxRepository, target: EncodedLog, *, batch: int) -> None:
        self._outbox = outbox
        self._target = target
        self._batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            raise_if_cancelled()  # one nats-py swallowed (kefu.cancellation)
            try:
                moved = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox relay failed; retrying", exc_info=True)
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
                continue
            if moved < self._batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def relay_once(self) -> int:
        """Publish one batch of outbox rows; returns how many moved."""
        rows = await self._outbox.oldest(self._batch)
        if not rows:
            return 0
        # The stored bytes as they are: kefu encoded them, in this schema.
        await self._target.append_encoded([(subject, eid, data) for _, subject, eid, data in rows])
        await self._outbox.delete([row_id for row_id, *_ in rows])
        return len(rows)
