"""Relay client sockets at C speed: picows on uvloop, one callback per frame, no coroutine.

An aiohttp client socket costs a reader task, a ``receive()`` coroutine per frame and a
``send_str()`` coroutine per message: at ~5,000 msg/s that used a whole core and became
the ceiling it claimed to measure (issue 17). picows parses and builds frames in Cython
and hands each frame to :meth:`FrameSocket.on_ws_frame` synchronously; sending is a plain
call that writes to the transport. The Python left per message is the driver's callback
(find the sequence number, record the arrival) and the frame's bytes.

picows offers no permessage-deflate, so relay frames travel uncompressed (the ~110-byte
chat frame gains little from it). The idle-memory jobs keep the aiohttp client
(:mod:`bench.wsclient`), which offers deflate as browsers do: what a server holds per
idle socket depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from bench.wsclient import DEFAULT_SOURCES

# A text frame's payload in; bytes to send back on the same socket (protocol pongs) or None.
OnBytes = Callable[[bytes], bytes | None]
# Bound on one WebSocket handshake (a busy server under a connect storm answers late).
HANDSHAKE_TIMEOUT_S = 60.0
# Longest wait for one socket's close handshake before it is dropped.
CLOSE_TIMEOUT_S = 2.0


class FrameSocket(WSListener):
    """One client socket: text frames go to ``on_text``; close frames are answered."""

    def __init__(self, on_text: OnBytes, ended: Counter[str]) -> None:
        super().__init__()
        self.on_text = on_text
        self.transport: WSTransport | None = None
        self.open = False
        self._ended = ended

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.open = True

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.TEXT:
            reply = self.on_text(frame.get_payload_as_bytes())
            if reply is not None:
                transport.send(WSMsgType.TEXT, reply)
        elif kind is WSMsgType.CLOSE:
            # The server ends the socket: record why, answer, and let the TCP side end.
            if self.open:
                self._ended[f"closed:{frame.get_close_code()}"] += 1
            self.open = False
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.open:
            self._ended["disconnected"] += 1
        self.open = False

    def send(self, data: bytes) -> None:
        """Queue one text frame; returns at once (the transport buffers)."""
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, data)


class FastGroup:
    """Relay sockets spread over the loopback source addresses; closes them all."""

    def __init__(self, sources: Sequence[str] = DEFAULT_SOURCES) -> None:
        self._sources = tuple(sources)
        self.sockets: list[FrameSocket] = []
        self.close_codes: Counter[str] = Counter()

    async def connect(self, url: str, index: int, on_text: OnBytes) -> FrameSocket:
        """Open one socket from source address ``index`` mod the sources."""
        local = (self._sources[index % len(self._sources)], 0)
        _, listener = await ws_connect(
            lambda: FrameSocket(on_text, self.close_codes),
            url,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT_S,
            local_addr=local,
        )
        assert isinstance(listener, FrameSocket)
        self.sockets.append(listener)
        return listener

    async def open_many(
        self, urls: Sequence[str], on_text: OnBytes, concurrency: int
    ) -> list[FrameSocket]:
        """Open one socket per url (at most ``concurrency`` handshakes at once), in order;
        raises naming how many failed and the first reason."""
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> FrameSocket | BaseException:
            async with sem:
                try:
                    return await self.connect(urls[i], i, on_text)
                except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
                    return exc

        results = await asyncio.gather(*(one(i) for i in range(len(urls))))
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(urls)} sockets failed: {failed[0]!r}")
        return [r for r in results if isinstance(r, FrameSocket)]

    def open_count(self) -> int:
        return sum(1 for s in self.sockets if s.open)

    async def aclose(self) -> None:
        """Close every socket (close frame, then TCP), never waiting long for any."""
        transports = [s.transport for s in self.sockets if s.transport is not None]
        for s in self.sockets:
            if s.open and s.transport is not None:
                s.open = False
                with contextlib.suppress(Exception):
                    s.transport.send_close()
                    s.transport.disconnect()

        async def gone(transport: WSTransport) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(transport.wait_disconnected(), CLOSE_TIMEOUT_S)

        await asyncio.gather(*(gone(t) for t in transports))
        self.sockets.clear()
