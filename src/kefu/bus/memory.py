"""In-process bus: handlers run as tasks so a publisher never waits on a subscriber."""

from __future__ import annotations

import asyncio
import logging

from kefu.bus.subjects import subject_matches
from kefu.ports import EventHandler

log = logging.getLogger(__name__)


class MemoryBus:
    def __init__(self) -> None:
        self._subscriptions: list[tuple[str, EventHandler]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self, subject: str, payload: bytes) -> None:
        for pattern, handler in self._subscriptions:
            if subject_matches(pattern, subject):
                task = asyncio.create_task(self._deliver(handler, subject, payload))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def subscribe(self, pattern: str, handler: EventHandler) -> None:
        self._subscriptions.append((pattern, handler))

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @staticmethod
    async def _deliver(handler: EventHandler, subject: str, payload: bytes) -> None:
        try:
            await handler(subject, payload)
        except Exception:
            log.exception("bus handler failed for %s", subject)
