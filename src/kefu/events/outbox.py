"""Emit events in the transaction of the change that caused them (the outbox pattern).

A service emits through its unit of work (``kefu.ports.UnitOfWork.emit``), which inserts
into ``outbox`` in the change's own transaction, so the event exists exactly when the
change committed. The event log then delivers it: the store log reads the outbox
directly; with JetStream a relay publishes and deletes the rows.

A transaction's owner that can hand its events to the consumer itself once committed
(the store log's ``append``, the rules consumer) opens its unit with ``collect=True``:
the unit keeps the stored rows' ids and events (``emitted``), which the owner passes on
only after its commit (``StoreEventLog.handoff``), so the consumer need not read back
and decode what this process has just written. The table's SQL is ``kefu.store.outbox``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kefu.events.rules import Rule, matches
from kefu.store.unit_of_work import Emitted

__all__ = ["Audience", "Emitted", "audience"]
AUDIENCE_CACHE = 10_000  # event types remembered as listened to or not

Audience = Callable[[str], bool]
"""Whether anything consumes kefu's own events of a type (``ticket.created``, …)."""


def audience(
    bus_url: str, rules: Sequence[Rule], subscribers: Callable[[str], list[str]] | None = None
) -> Audience:
    """Who can consume kefu's own events: with JetStream, anyone (other systems subscribe
    to the stream), so every type is written; with ``memory://`` the outbox's one reader
    is the rules consumer, so a type no rule listens to has nobody to be delivered to and
    is not written at all (it would be inserted, handed over, dropped and deleted).
    ``subscribers`` (the console's webhooks, which change at run time) also listen."""
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
        return found or (subscribers is not None and bool(subscribers(event_type)))

    return listened


def _everyone(event_type: str) -> bool:
    return True
