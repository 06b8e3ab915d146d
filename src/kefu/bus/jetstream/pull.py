"""The JetStream pull protocol, spoken directly on one inbox.

nats-py's ``fetch`` waits for each message with its own timer task, which caps a consumer
near 20k messages/s; :class:`Puller` sends ``$JS.API.CONSUMER.MSG.NEXT`` requests itself
and wakes the consumer once per batch: about twice the rate, on the same public client API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kefu.bus.jetstream.protocol import HEADER_DESCRIPTION, HEADER_STATUS


class PullFailed(Exception):
    """The server ended a pull with a problem (the consumer was deleted, no JetStream)."""


class Puller:
    """The JetStream pull protocol on one inbox: request ``batch`` messages from
    ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``, collect them in a callback.

    nats-py's ``fetch`` waits for each message with its own timer task, which caps a
    consumer near 20k messages/s; here the fetcher is woken once per batch. First a
    ``no_wait`` request takes what is there; when nothing is, a lingering request for one
    message waits up to ``linger`` seconds, so a trickle is delivered at once and a burst in
    batches. A status message (404 none, 408 expired, 409 problems) ends a request.

    A full batch handed out asks for the next one at once (``no_wait``, not awaited), so
    it arrives while the handler works on this one instead of after it: one batch more
    in flight, well inside ``max_ack_pending`` (4 batches), and kept alive while it waits
    (:meth:`buffered`); unhandled at a stop, it is redelivered like the batch in progress.
    """

    def __init__(self, nc: NATS, stream: str, consumer: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._buffer: list[Msg] = []
        self._want = 0
        self._wake = asyncio.Event()
        self._problem: str | None = None
        self._prefetching = False  # a request for the next batch is out, not awaited
        self._arrived = 0.0  # monotonic time the oldest buffered message came

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)

    async def stop(self) -> None:
        """Messages delivered but not handed out go unacknowledged and come again."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get(HEADER_STATUS) if msg.headers else None
        if status is None:
            if not self._buffer:
                self._arrived = time.monotonic()
            self._buffer.append(msg)
            if len(self._buffer) >= self._want:
                self._wake.set()
        elif status != "100":  # 100 is an idle heartbeat
            if status not in ("404", "408"):
                description = (msg.headers or {}).get(HEADER_DESCRIPTION, "")
                self._problem = f"{status} {description}".strip()
            self._wake.set()

    def buffered(self) -> tuple[float, list[Msg]] | None:
        """Messages delivered and not handed out yet, and since when: the consumer keeps
        them alive (``kefu.bus.in_progress``) like the batches it handles."""
        return (self._arrived, list(self._buffer)) if self._buffer else None

    async def fetch(self, batch: int, linger: float) -> tuple[list[Msg], float]:
        """Up to ``batch`` messages and the monotonic time the oldest arrived; an empty
        list after ``linger`` seconds with none."""
        if self._prefetching:
            self._prefetching = False
            with contextlib.suppress(TimeoutError):  # a lost request: asked again below
                async with asyncio.timeout(linger):
                    await self._wake.wait()
        if len(self._buffer) < batch:
            need = batch - len(self._buffer)
            await self._request({"batch": need, "no_wait": True}, batch, linger)
        if not self._buffer and self._problem is None:
            expires = int(linger * 1e9)
            # The client waits a little longer than the server, so the 408 ends it.
            await self._request({"batch": 1, "expires": expires}, 1, linger + 1.0)
        arrived = self._arrived  # the rest, if any, came later: counted from then too
        msgs, self._buffer = self._buffer[:batch], self._buffer[batch:]
        problem, self._problem = self._problem, None
        if not msgs and problem is not None:
            raise PullFailed(problem)
        if len(msgs) == batch and not self._buffer:  # busy: the next batch is wanted too
            self._want = batch
            self._wake.clear()
            self._prefetching = True
            request = {"batch": batch, "no_wait": True}
            await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        return msgs, arrived

    async def _request(self, request: dict[str, object], want: int, wait: float) -> None:
        self._want = want
        self._wake.clear()
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        with contextlib.suppress(TimeoutError):  # a lost request: the next fetch asks again
            async with asyncio.timeout(wait):
                await self._wake.wait()
