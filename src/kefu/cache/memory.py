"""In-process TTL cache: the single-node default.

Expiry is checked on read and swept lazily every ``SWEEP_EVERY`` writes, so memory stays
bounded by the live keys without a background task to own. The live keys are bounded too
(``MAX_ENTRIES`` values and as many counters): some keys are chosen by clients (an IP per
throttle counter), and a flood of new ones must not grow the process without limit. When
full, the entry written longest ago goes first: a counter still being counted, or a value
just refreshed, is written again and so kept.
"""

from __future__ import annotations

import time
from typing import TypeVar

SWEEP_EVERY = 1024  # amortises the O(n) sweep to well under a microsecond per write
# Per map (values, counters). Entries are small (a counter, a customer's 360 fragment of a
# few KiB), so the worst case stays in the hundreds of MiB, while a single node's real
# working set (its visitors' IPs, the customers chatting within a TTL) is far below it.
MAX_ENTRIES = 100_000

_V = TypeVar("_V")


class MemoryCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        """``max_entries`` bounds values and counters each (module docstring)."""
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._data: dict[str, tuple[float, bytes]] = {}
        self._counters: dict[str, tuple[float, int]] = {}
        self._writes = 0

    def __len__(self) -> int:
        """Values and counters held, expired ones not yet swept included."""
        return len(self._data) + len(self._counters)

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._data[key]
            return None
        return entry[1]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._write(self._data, key, (time.monotonic() + ttl_seconds, value))
        self._maybe_sweep()

    async def incr(self, key: str, ttl_seconds: float) -> int:
        now = time.monotonic()
        expires, count = self._counters.get(key, (0.0, 0))
        if expires <= now:
            expires, count = now + ttl_seconds, 0
        self._write(self._counters, key, (expires, count + 1))
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

    def _write(self, entries: dict[str, _V], key: str, entry: _V) -> None:
        """Put ``entry`` last in write order, then evict from the front past the bound
        (dicts keep insertion order: the front is the entry written longest ago)."""
        entries.pop(key, None)
        entries[key] = entry
        while len(entries) > self._max:
            del entries[next(iter(entries))]

    def _maybe_sweep(self) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY:
            return
        now = time.monotonic()
        self._data = {k: v for k, v in self._data.items() if v[0] > now}
        self._counters = {k: v for k, v in self._counters.items() if v[0] > now}
