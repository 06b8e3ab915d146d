"""The small interfaces adapters plug into, wired in ``kefu.bootstrap``.

Each has an embedded implementation (the default, no server needed) and a production one.
Adapters satisfy these structurally; none inherits from them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: the port names them, it does not use them
    from kefu.domain.envelope import Event
    from kefu.domain.models import Message, NewMessage


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now; injected so tests can move time."""
        ...


class MessageAppender(Protocol):
    """Chat messages into the store by group commit, stored before ``append`` returns:
    ``kefu.store.messages.MessageWriter`` (PostgreSQL's committers), and on SQLite
    ``kefu.store.sqlite_writer.SqliteMessageWriter`` (its writer thread batches)."""

    @property
    def backlog(self) -> int:
        """Messages waiting for a batch."""
        ...

    @property
    def batches(self) -> int: ...

    @property
    def written(self) -> int: ...

    async def append(self, new: NewMessage) -> tuple[Message, bool]:
        """The stored message and True, or the original and False when its
        ``client_msg_id`` was stored before."""
        ...

    async def append_many(self, news: Sequence[NewMessage]) -> list[tuple[Message, bool]]:
        """Messages of one conversation, with nothing else stored between them."""
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


class PasswordHasher(Protocol):
    """Agents' password hashes. Production's is argon2id, slow on purpose; tests wire a
    cheap one through ``kefu.bootstrap.running_node(password_hasher=...)``."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (no such account) is False after the
        same work as a real check, so timing does not tell which accounts exist."""
        ...


class UnitOfWork(Protocol):
    """One transaction on kefu's store: changes made through it, the events they cause
    (``emit``, into the outbox, so an event exists exactly when its change committed)
    and what must wait for the commit (``after_commit``: live frames, wake-ups).

    Entered through a ``UnitOfWorkFactory``; committed on a clean exit, rolled back
    (callbacks dropped) on an exception. The store's implementation is
    ``kefu.store.unit_of_work.StoreUnitOfWork``, which also carries the repositories
    bound to the transaction (``tickets``, ``sagas``, ``mail``, ``webhooks``,
    ``processed``, ``routing``, ``dead_letters``): services change kefu's tables through
    those, never through the connection under them (``tests/unit/test_store_boundary.py``).
    """

    async def emit(self, events: Sequence[Event], now: datetime) -> None:
        """Write ``events`` to the outbox in this transaction (no round trip when empty)."""
        ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit committed. Registering on a unit that has
        already ended raises ``RuntimeError``: it would otherwise never run, or run for
        a change that rolled back."""
        ...


UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
"""Opens a new unit of work (``async with units() as uow: ...``)."""
