"""Driver for the raw relays of ``bench.stacks``: pairs of sockets, A talks, B listens."""

from __future__ import annotations

from collections import Counter

import aiohttp

from bench.drivers.base import OnText
from bench.fastws import FastGroup, FrameSocket
from bench.latency import Probe, message_send_bytes, seq_in_bytes
from bench.wsclient import Pool


def _ignore_text(_: str) -> str | None:
    return None


def _ignore(_: bytes) -> bytes | None:
    return None


class RawIdle:
    """Idle sockets on a raw relay: ``/ws?id=i`` with no peer."""

    def __init__(self, pool: Pool, ws_base: str) -> None:
        self._pool = pool
        self._ws_base = ws_base

    async def prepare(self, count: int) -> None:
        return None

    async def open_one(self, index: int) -> tuple[aiohttp.ClientWebSocketResponse, OnText]:
        return await self._pool.ws(f"{self._ws_base}/ws?id=i{index}", index), _ignore_text

    def describe(self) -> dict[str, object]:
        return {}


class RawPairs:
    """``pairs`` pairs of picows sockets; every message from A_i is relayed to B_i."""

    def __init__(self, ws_base: str, pairs: int, concurrency: int) -> None:
        self._ws_base = ws_base
        self._pairs = pairs
        self._concurrency = concurrency
        self.has_acks = False
        self.senders = pairs
        self.errors: Counter[str] = Counter()
        self._a: list[FrameSocket] = []
        self._group = FastGroup()
        self._delivery: Probe | None = None
        self.strays = 0  # frames at a B socket carrying no sequence number

    async def open(self) -> None:
        # B sockets first, so a frame from A never finds its peer missing.
        await self._group.open_many(self._urls("b", "a"), self._on_b, self._concurrency)
        self._a = await self._group.open_many(self._urls("a", "b"), _ignore, self._concurrency)

    def _urls(self, me: str, peer: str) -> list[str]:
        return [f"{self._ws_base}/ws?id={me}{i}&peer={peer}{i}" for i in range(self._pairs)]

    def _on_b(self, data: bytes) -> bytes | None:
        seq = seq_in_bytes(data)
        if seq < 0:
            self.strays += 1
        elif self._delivery is not None:
            self._delivery.arrived(seq)
        return None

    def arm(self, delivery: Probe, ack: Probe | None) -> None:
        self._delivery = delivery

    def send(self, index: int, seq: int) -> None:
        self._a[index].send(message_send_bytes(seq))

    async def aclose(self) -> None:
        await self._group.aclose()

    def describe(self) -> dict[str, object]:
        return {
            "pairs": self._pairs,
            "client": "picows",
            "deflate_negotiated": 0.0,
            "open_at_end": self._group.open_count(),
            "close_codes": dict(self._group.close_codes),
            "frames_without_seq": self.strays,
        }
