"""Emit events in the transaction of the change that caused them (the outbox pattern).

``emit(conn, events)`` inserts into ``outbox`` on the caller's connection, so the event
exists exactly when the change committed. The event log then delivers it: the store log
reads the outbox directly; with JetStream a relay publishes and deletes the rows.

A transaction's owner that can hand its events to the consumer itself once committed
(the store log's ``append``, the rules consumer) wraps the transaction in
``collecting()``: every ``emit`` inside it, however deep in a service, adds the stored
rows' ids and events to the collector, which the owner passes on only after its commit
(``StoreEventLog.handoff``): the consumer then need not read back and decode what this
process has just written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.domain.envelope import Event, encode
from kefu.events.rules import Rule, matches
from kefu.store.outbox import COLUMNS, delete_rows, insert, insert_returning_ids

__all__ = ["COLUMNS", "Audience", "Emitted", "audience", "collecting", "delete_rows", "emit"]
AUDIENCE_CACHE = 10_000  # event types remembered as listened to or not

Audience = Callable[[str], bool]
"""Whether anything consumes kefu's own events of a type (``ticket.created``, …)."""

Emitted = list[tuple[int, Event]]
"""(outbox row id, event) of what a transaction emitted."""

# Task-local (a ContextVar): the collector of the transaction this task is running, if
# its owner asked for one. Tasks never share it, so no other transaction adds to it.
_collector: ContextVar[Emitted | None] = ContextVar("kefu_outbox_collector", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[Emitted]:
    """Collect what ``emit`` writes in this task until the block ends; hand it on only
    after the transaction committed (a rolled-back transaction's list means nothing)."""
    found: Emitted = []
    token = _collector.set(found)
    try:
        yield found
    finally:
        _collector.reset(token)


async def emit(conn: AsyncConnection, events: Sequence[Event], now: datetime) -> None:
    if not events:
        return
    rows = [(event.subject, event.id, encode(event), now) for event in events]
    sink = _collector.get()
    if sink is None:
        await insert(conn, rows)
        return
    ids = await insert_returning_ids(conn, rows)
    sink.extend(zip(ids, events, strict=True))


def audience(bus_url: str, rules: Sequence[Rule]) -> Audience:
    """Who can consume kefu's own events: with JetStream, anyone (other systems subscribe
    to the stream), so every type is written; with ``memory://`` the outbox's one reader
    is the rules consumer, so a type no rule listens to has nobody to be delivered to and
    is not written at all (it would be inserted, handed over, dropped and deleted)."""
    if not bus_url.startswith("memory:"):
        return _everyone
    patterns = [pattern for rule in rules for pattern in rule.patterns]
    known: dict[str, bool] = {}

    def listened(event_type: str) -> bool:
        found = known.get(event_type)
        if found is None:
            found = any(matches(pattern, event_type) for pattern in patterns)
            if len(known) < AUDIENCE_CACHE:
                known[event_type] = found
        return found

    return listened


def _everyone(event_type: str) -> bool:
    return True
