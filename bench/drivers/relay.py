"""Driver for the raw relays of ``bench.stacks``: pairs of sockets, A talks, B listens."""

from __future__ import annotations

import functools
from collections import Counter

import aiohttp

from bench.drivers.base import OnText, SocketGroup, all_open
from bench.latency import Probe, message_send_frame, seq_in
from bench.wsclient import Pool


def _ignore(_: str) -> str | None:
    return None


class RawIdle:
    """Idle sockets on a raw relay: ``/ws?id=i`` with no peer."""

    def __init__(self, pool: Pool, ws_base: str) -> None:
        self._pool = pool
        self._ws_base = ws_base

    async def prepare(self, count: int) -> None:
        return None

    async def open_one(self, index: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
        return await self._pool.ws(f"{self._ws_base}/ws?id=i{index}", index), _ignore

    def describe(self) -> dict[str, object]:
        return {}


class RawPairs:
    """``pairs`` pairs; every message from A_i is relayed by the server to B_i."""

    def __init__(self, pool: Pool, ws_base: str, pairs: int, concurrency: int) -> None:
        self._pool = pool
        self._ws_base = ws_base
        self._pairs = pairs
        self._concurrency = concurrency
        self.has_acks = False
        self.senders = pairs
        self.errors: Counter[str] = Counter()
        self._a: list[aiohttp.ClientWebSocketResponse] = []
        self._group = SocketGroup()
        self._delivery: Probe | None = None

    async def open(self) -> None:
        # B sockets first, so a frame from A never finds its peer missing.
        await self._connect("b", "a", self._on_b)
        self._a = await self._connect("a", "b", _ignore)

    async def _connect(
        self, me: str, peer: str, on_text: OnText
    ) -> list[aiohttp.ClientWebSocketResponse]:
        async def opener(i: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
            url = f"{self._ws_base}/ws?id={me}{i}&peer={peer}{i}"
            return await self._pool.ws(url, i), on_text

        results = await self._group.open_many(
            [functools.partial(opener, i) for i in range(self._pairs)], self._concurrency
        )
        return all_open(results, f"{me}-sockets")

    def _on_b(self, text: str) -> str | None:
        if self._delivery is not None:
            self._delivery.arrived(seq_in(text))
        return None

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        self._delivery = delivery

    async def send(self, index: int, seq: int) -> None:
        await self._a[index].send_str(message_send_frame(seq))

    async def aclose(self) -> None:
        await self._group.aclose()

    def describe(self) -> dict[str, object]:
        return {"pairs": self._pairs, "deflate_negotiated": self._group.deflate_share()}
