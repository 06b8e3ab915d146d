"""A node's periodic duty towards the others (presence, assignment catch-up)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from kefu.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def every(
    seconds: float, beat: Callable[[], Awaitable[None]], what: str
) -> AsyncIterator[None]:
    """Run ``beat`` every ``seconds`` while the block runs; a failing beat is logged and
    the next one tries again (the store may be restarting)."""

    async def loop() -> None:
        while True:
            raise_if_cancelled()  # a beat's nats-py call swallowed it (kefu.cancellation)
            await asyncio.sleep(seconds)
            try:
                await beat()
            except Exception:
                log.exception("%s failed; retrying in %.0f s", what, seconds)

    task = asyncio.create_task(loop(), name=what)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
