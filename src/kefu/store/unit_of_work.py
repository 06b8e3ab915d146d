"""The store's ``kefu.ports.UnitOfWork``: one transaction on one connection, its outbox
writes, the callbacks waiting for its commit, and the repositories bound to it.

It replaces two task-local ContextVars (``deferred()``/``after_commit`` and the outbox's
``collecting()``): what a transaction collects now lives on the unit passed down to the
services, so nothing depends on which task runs the code, and registering a callback
with no transaction around it is impossible rather than silently run at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.envelope import Event, encode
from kefu.store import outbox
from kefu.store.database import Database
from kefu.store.dead_letters import DeadLettersInUnit
from kefu.store.email import MailInUnit
from kefu.store.processed_events import ProcessedInUnit
from kefu.store.routing import RoutingInUnit
from kefu.store.sagas import SagasInUnit
from kefu.store.tickets import TicketsInUnit
from kefu.store.webhooks import WebhooksInUnit

log = logging.getLogger(__name__)

Emitted = list[tuple[int, Event]]
"""(outbox row id, event) of what a unit emitted."""


class StoreUnitOfWork:
    """One open transaction. ``collect=True``: ``emitted`` gathers the outbox rows' ids
    and events, for an owner that hands them to the consumer itself once committed (the
    store event log's ``handoff``), sparing the consumer a read-back of its own writes.
    Without it the rows are inserted without returning ids (one statement either way)."""

    def __init__(self, conn: AsyncConnection, *, collect: bool = False) -> None:
        self._conn = conn
        self._collect = collect
        self._callbacks: list[Callable[[], None]] | None = []
        self.emitted: Emitted = []

    @property
    def collecting(self) -> bool:
        """Does ``emitted`` gather what this unit emits (``collect=True``)?"""
        return self._collect

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for code in ``kefu.store`` only: services use the
        repositories below (``tests/unit/test_store_boundary.py`` keeps it so)."""
        return self._conn

    # -- the repositories bound to this transaction (made on first use) -------------------

    @functools.cached_property
    def tickets(self) -> TicketsInUnit:
        return TicketsInUnit(self._conn)

    @functools.cached_property
    def mail(self) -> MailInUnit:
        return MailInUnit(self._conn)

    @functools.cached_property
    def sagas(self) -> SagasInUnit:
        return SagasInUnit(self._conn)

    @functools.cached_property
    def processed(self) -> ProcessedInUnit:
        return ProcessedInUnit(self._conn)

    @functools.cached_property
    def routing(self) -> RoutingInUnit:
        return RoutingInUnit(self._conn)

    @functools.cached_property
    def webhooks(self) -> WebhooksInUnit:
        return WebhooksInUnit(self._conn)

    @functools.cached_property
    def dead_letters(self) -> DeadLettersInUnit:
        return DeadLettersInUnit(self._conn)

    async def emit(self, events: Sequence[Event], now: datetime) -> None:
        if not events:
            return
        if not self._collect:
            await outbox.emit(self._conn, events, now)
            return
        rows = [(event.subject, event.id, encode(event), now) for event in events]
        ids = await outbox.insert_returning_ids(self._conn, rows)
        self.emitted.extend(zip(ids, events, strict=True))

    def after_commit(self, callback: Callable[[], None]) -> None:
        if self._callbacks is None:
            raise RuntimeError("after_commit on a unit of work that has already ended")
        self._callbacks.append(callback)

    def _end(self, committed: bool) -> list[Callable[[], None]]:
        """Close the unit to new callbacks; those to run (none after a rollback)."""
        found, self._callbacks = self._callbacks or [], None
        return found if committed else []


@contextlib.asynccontextmanager
async def unit_of_work(db: Database, *, collect: bool = False) -> AsyncIterator[StoreUnitOfWork]:
    """A unit on a new transaction: committed on a clean exit, then its callbacks run in
    order (a failing one is logged: the change is committed, only a notice is lost)."""
    unit: StoreUnitOfWork | None = None
    committed = False
    try:
        async with db.begin() as conn:
            unit = StoreUnitOfWork(conn, collect=collect)
            yield unit
        committed = True
    finally:
        callbacks = unit._end(committed) if unit is not None else []
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


Units = Callable[[], contextlib.AbstractAsyncContextManager[StoreUnitOfWork]]
"""Opens a new unit (the store's ``kefu.ports.UnitOfWorkFactory``)."""


def unit_of_work_factory(db: Database, *, collect: bool = False) -> Units:
    """What services are given to open their own units of work (``collect``: units that
    keep what they emitted, for an owner that hands it to the consumer itself)."""
    return lambda: unit_of_work(db, collect=collect)
