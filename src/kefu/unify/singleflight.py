"""Single-flight: concurrent requests for the same thing share one fetch.

A hundred agents opening the same customer cause one query per source. Callers wait on
the shared task through ``asyncio.shield``, so one caller giving up (its deadline) does
not cancel the fetch the others, and the cache, are waiting for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[T]] = {}

    def running(self, key: str) -> asyncio.Task[T] | None:
        return self._flights.get(key)

    def start(self, key: str, work: Callable[[], Coroutine[Any, Any, T]]) -> asyncio.Task[T]:
        """The flight for ``key``: the running one, or a new one running ``work()``."""
        task = self._flights.get(key)
        if task is None:
            task = asyncio.create_task(work())
            self._flights[key] = task
            task.add_done_callback(lambda done: self._landed(key, done))
        return task

    def _landed(self, key: str, task: asyncio.Task[T]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        # Every waiter may have given up already; the outcome is logged by the work itself.
        if not task.cancelled():
            task.exception()

    async def cancel_all(self) -> None:
        tasks = list(self._flights.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
