"""The small interfaces adapters plug into, wired in ``kefu.bootstrap``.

Each has an embedded implementation (the default, no server needed) and a production one.
Adapters satisfy these structurally; none inherits from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now; injected so tests can move time."""
        ...


class Cache(Protocol):
    """Short-lived shared state: rate-limit counters, presence, the 360 cache."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def incr(self, key: str, ttl_seconds: float) -> int:
        """Add one and return the new count; the key expires ``ttl_seconds`` after creation."""
        ...

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> None:
        """Raise when the cache cannot be reached (readiness)."""
        ...


EventHandler = Callable[[str, bytes], Awaitable[None]]


class EventBus(Protocol):
    """Subject-addressed publish/subscribe (NATS semantics: ``*`` one token, ``>`` the rest)."""

    async def publish(self, subject: str, payload: bytes) -> None: ...

    async def subscribe(self, pattern: str, handler: EventHandler) -> None: ...

    async def ping(self) -> None:
        """Raise when the bus cannot be reached (readiness)."""
        ...
