"""In-process TTL cache: the single-node default.

Expiry is checked on read and swept lazily every ``SWEEP_EVERY`` writes, so memory stays
bounded by the live keys without a background task to own.
"""

from __future__ import annotations

import time

SWEEP_EVERY = 1024  # amortises the O(n) sweep to well under a microsecond per write


class MemoryCache:
    def __init__(self) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}
        self._counters: dict[str, tuple[float, int]] = {}
        self._writes = 0

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._data[key]
            return None
        return entry[1]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._data[key] = (time.monotonic() + ttl_seconds, value)
        self._maybe_sweep()

    async def incr(self, key: str, ttl_seconds: float) -> int:
        now = time.monotonic()
        expires, count = self._counters.get(key, (0.0, 0))
        if expires <= now:
            expires, count = now + ttl_seconds, 0
        self._counters[key] = (expires, count + 1)
        self._maybe_sweep()
        return count + 1

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)
        self._counters.pop(key, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()
        self._counters.clear()

    def _maybe_sweep(self) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY:
            return
        now = time.monotonic()
        self._data = {k: v for k, v in self._data.items() if v[0] > now}
        self._counters = {k: v for k, v in self._counters.items() if v[0] > now}
