"""What every driver offers the load generator, and the socket bookkeeping they share."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import aiohttp

from bench.latency import Probe
from bench.wsclient import close_all, gather_bounded

# A text-frame handler; a returned string is sent back on the same socket (protocol pings).
OnText = Callable[[str], str | None]
# Opens one socket through its handshake; returns it with the handler for its frames.
Opener = Callable[[], Awaitable[tuple[aiohttp.ClientWebSocketResponse, OnText]]]


class IdleDriver(Protocol):
    """Opens sockets that then sit idle, for the memory-per-socket measurement."""

    async def prepare(self, count: int) -> None:
        """Create whatever each socket needs (accounts, tokens) before memory is sampled."""

    async def open_one(self, index: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
        """Open socket ``index`` through its protocol handshake; return it and its handler."""
        ...

    def describe(self) -> dict[str, object]:
        """Facts worth recording (time to prepare, throttling, frames received)."""
        ...


class RelayTarget(Protocol):
    """Senders whose messages the server relays to receivers that report into probes.

    Relay targets hold picows sockets (:mod:`bench.fastws`): ``send`` is a plain call
    and arrivals come in frame callbacks, so no coroutine runs per message.
    """

    senders: int
    has_acks: bool  # whether the server acknowledges each message to its sender
    errors: Counter[str]

    async def open(self) -> None: ...

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        """Route arrivals of the next step into these probes."""

    def send(self, index: int, seq: int) -> None:
        """Queue message ``seq`` on sender ``index``; never blocks."""

    async def aclose(self) -> None: ...

    def describe(self) -> dict[str, object]:
        """Facts about the setup worth recording (negotiated extensions, counts)."""
        ...


class SocketGroup:
    """Open sockets, each with a reader task; remembers how each one ended."""

    def __init__(self) -> None:
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.close_codes: Counter[str] = Counter()

    async def open_many(
        self, openers: Sequence[Opener], concurrency: int
    ) -> list[aiohttp.ClientWebSocketResponse | BaseException]:
        """Open sockets (at most ``concurrency`` handshakes at once), in order; failures
        are returned, not raised. Each socket is read from the moment it opens: a socket
        left unread while thousands of others connect never answers the server's pings,
        and a server with a heartbeat rightly drops it."""

        async def one(opener: Opener) -> aiohttp.ClientWebSocketResponse:
            ws, on_text = await opener()
            self.add(ws, on_text)
            return ws

        return await gather_bounded([functools.partial(one, o) for o in openers], concurrency)

    def add(self, ws: aiohttp.ClientWebSocketResponse, on_text: OnText) -> None:
        self.sockets.append(ws)
        self._tasks.append(asyncio.create_task(self._read(ws, on_text)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, on_text: OnText) -> None:
        # aiohttp answers pings and close frames only while someone reads the socket.
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    reply = on_text(msg.data)
                    if reply is not None:
                        await ws.send_str(reply)
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.close_codes[f"error:{type(exc).__name__}: {exc}"[:120]] += 1
            return
        self.close_codes[f"closed:{ws.close_code}"] += 1

    def open_count(self) -> int:
        """Sockets still being read and not closed: a socket whose reader died (reset,
        failed pong) counts as lost even before aiohttp marks it closed."""
        return sum(
            1
            for ws, task in zip(self.sockets, self._tasks, strict=True)
            if not ws.closed and not task.done()
        )

    def deflate_share(self) -> float:
        """Fraction of sockets on which the server accepted permessage-deflate."""
        if not self.sockets:
            return 0.0
        return sum(1 for ws in self.sockets if ws.compress) / len(self.sockets)

    async def aclose(self, concurrency: int = 512) -> None:
        await close_all(self.sockets, concurrency)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()


def all_open(
    results: list[aiohttp.ClientWebSocketResponse | BaseException], what: str
) -> list[aiohttp.ClientWebSocketResponse]:
    """The sockets, or an error naming how many of ``what`` failed and the first reason."""
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(results)} {what} failed: {failed[0]!r}")
    return [r for r in results if isinstance(r, aiohttp.ClientWebSocketResponse)]
