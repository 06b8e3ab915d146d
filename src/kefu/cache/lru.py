"""A bounded in-process map with expiry: least recently used entries go first.

For caches whose keys a client chooses (bearer tokens it presents): a plain dict there
grows with every new key for as long as the process lives. Not the ``Cache`` port (that
one is shared between nodes); this is a node's own memo of recent answers.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedTtlCache(Generic[K, V]):
    """At most ``max_entries`` entries, each forgotten ``ttl_seconds`` after it was put.

    Reads and writes are O(1); an expired entry is dropped when read, and the bound holds
    whether entries expire or not, so memory never depends on what clients send.
    """

    def __init__(
        self,
        max_entries: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        """``(True, value)`` for a live entry (now the most recently used), else
        ``(False, None)``: a cached ``None`` is a hit, not a miss."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self._clock():
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
