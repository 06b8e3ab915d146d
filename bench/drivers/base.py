"""What every driver offers the load generator, and the socket bookkeeping they share."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import aiohttp

from bench.latency import Probe
from bench.wsclient import close_all

# A text-frame handler; a returned string is sent back on the same socket (protocol pings).
OnText = Callable[[str], str | None]


class IdleDriver(Protocol):
    """Opens sockets that then sit idle, for the memory-per-socket measurement."""

    async def prepare(self, count: int) -> None:
        """Create whatever each socket needs (accounts, tokens) before memory is sampled."""

    async def open_one(self, index: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
        """Open socket ``index`` through its protocol handshake; return it and its handler."""
        ...


class RelayTarget(Protocol):
    """Senders whose messages the server relays to receivers that report into probes."""

    senders: int
    has_acks: bool  # whether the server acknowledges each message to its sender
    errors: Counter[str]

    async def open(self) -> None: ...

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        """Route arrivals of the next step into these probes."""

    async def send(self, index: int, seq: int) -> None: ...

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
            self.close_codes[f"error:{type(exc).__name__}"] += 1
            return
        self.close_codes[f"closed:{ws.close_code}"] += 1

    def open_count(self) -> int:
        return sum(1 for ws in self.sockets if not ws.closed)

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
