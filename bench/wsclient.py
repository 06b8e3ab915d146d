"""Client-side plumbing: HTTP sessions spread over several 127.0.0.x source addresses.

One source address gives ~28k ephemeral ports, shared with TIME_WAIT leftovers of earlier
scenarios; spreading sockets over eight loopback addresses removes that ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TypeVar

import aiohttp

T = TypeVar("T")
# Eight addresses x ~28k ports: far above the 20k file-descriptor limit.
DEFAULT_SOURCES = tuple(f"127.0.0.{i}" for i in range(2, 10))
# Zlib window bits offered for permessage-deflate, as browsers do (15 = 32 KiB window).
DEFLATE_WBITS = 15
# Bound on any single HTTP request or WebSocket handshake.
REQUEST_TIMEOUT_S = 60.0


class Pool:
    """Owns one ClientSession per source address; closes them all on exit."""

    def __init__(self, sources: Sequence[str] = DEFAULT_SOURCES, compress: int = DEFLATE_WBITS):
        self._sources = tuple(sources)
        self.compress = compress
        self._sessions: list[aiohttp.ClientSession] = []

    async def __aenter__(self) -> Pool:
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        for ip in self._sources:
            connector = aiohttp.TCPConnector(local_addr=(ip, 0), limit=0, ttl_dns_cache=None)
            self._sessions.append(aiohttp.ClientSession(connector=connector, timeout=timeout))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for session in self._sessions:
            await session.close()
        self._sessions.clear()

    def session(self, i: int) -> aiohttp.ClientSession:
        """Session for the ``i``-th client: consecutive clients use different sources."""
        return self._sessions[i % len(self._sessions)]

    async def ws(self, url: str, i: int) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket offering permessage-deflate (when ``compress`` is non-zero)."""
        return await self.session(i).ws_connect(
            url, compress=self.compress, autoping=True, max_msg_size=0
        )


async def gather_bounded(
    factories: Sequence[Callable[[], Awaitable[T]]], concurrency: int
) -> list[T | BaseException]:
    """Run the coroutine factories with at most ``concurrency`` in flight; keep failures."""
    sem = asyncio.Semaphore(concurrency)

    async def one(factory: Callable[[], Awaitable[T]]) -> T | BaseException:
        async with sem:
            try:
                return await factory()
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                return exc

    return list(await asyncio.gather(*(one(f) for f in factories)))


async def close_all(sockets: Sequence[aiohttp.ClientWebSocketResponse], concurrency: int) -> None:
    """Close sockets politely but never for long: a stuck close is abandoned after 2 s."""

    async def close(ws: aiohttp.ClientWebSocketResponse) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2.0)

    await gather_bounded([functools.partial(close, ws) for ws in sockets], concurrency)
