"""Helpers for tests of the JetStream event log: settings, a consumer run for the length
of a block, and a wait on an async condition."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from kefu.bus.jetstream import JetStreamEventLog
from kefu.events.log import Received, Result
from kefu.events.settings import EventSettings, JetStreamSettings


def make_settings(**jetstream: Any) -> EventSettings:
    batch = jetstream.pop("batch", 500)
    max_attempts = jetstream.pop("max_attempts", 5)
    return EventSettings(
        batch=batch, max_attempts=max_attempts, jetstream=JetStreamSettings(**jetstream)
    )


@contextlib.asynccontextmanager
async def consuming(
    log: JetStreamEventLog,
    consumer: str,
    handle: Callable[[Sequence[Received]], Awaitable[Sequence[Result]]],
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(log.consume(consumer, handle))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_async(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
