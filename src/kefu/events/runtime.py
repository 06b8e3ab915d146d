"""The events machinery of one node, started and stopped as one unit by the bootstrap:
the event log (store outbox or JetStream), the rules consumer, and — with JetStream — the
outbox relay that publishes what kefu itself emitted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from kefu.chat import frames
from kefu.chat.hub import Hub
from kefu.cluster.envelope import Audience
from kefu.domain.roles import Role
from kefu.events.envelope import Event
from kefu.events.log import EventLog
from kefu.events.processor import CONSUMER, EventProcessor, TicketEffects, WebhookEffects
from kefu.events.relay import OutboxRelay
from kefu.events.retention import run_pruner
from kefu.events.rules import Rule
from kefu.events.settings import EventSettings
from kefu.events.store_log import LANES, StoreEventLog
from kefu.ports import Clock
from kefu.store.database import Database
from kefu.store.routing import CustomerRoutingRepository
from kefu.unify.service import Customer360

log = logging.getLogger(__name__)


def live_notifier(hub: Hub) -> Any:
    """Rules' ``notify`` action: a ``notification`` frame to the online agents of a role."""

    def notify(role: Role, text: str, event: Event, rule: str, ticket_id: int | None) -> None:
        audience = Audience.AGENTS if role is Role.AGENT else Audience.SUPERVISORS
        if not hub.may_reach(audience):
            return
        frame = frames.encode(
            {
                "type": "notification",
                "message": text,
                "rule": rule,
                "ticket_id": str(ticket_id) if ticket_id is not None else None,
                "event": {
                    "id": event.id,
                    "type": event.type,
                    "customer_key": event.customer_key,
                },
            }
        )
        hub.send((), frame, audience=audience)

    return notify


def customer_loader(customers: Customer360) -> Any:
    """What rules read as ``customer.*``: the 360's profile plus its lists."""

    async def load(key: str) -> Mapping[str, Any] | None:
        if not customers.sources:
            return None
        try:
            view = await customers.unified(key)
        except Exception:
            log.warning("customer 360 for rules failed for a key", exc_info=True)
            return None
        content = view.memo.rendered_content()
        return {
            **content.get("customer", {}),
            "orders": content.get("orders", []),
            "tickets": content.get("tickets", []),
            "calls": content.get("calls", []),
        }

    return load


@contextlib.asynccontextmanager
async def running_events(
    db: Database,
    clock: Clock,
    settings: EventSettings,
    rules: Sequence[Rule],
    *,
    bus_url: str,
    routing: CustomerRoutingRepository,
    customers: Customer360,
    hub: Hub,
    tickets: TicketEffects | None,
    webhooks: WebhookEffects | None,
) -> AsyncIterator[EventLog]:
    """Yield the node's event log while the rules consumer (and, with JetStream, the
    outbox relay) runs behind it."""
    async with contextlib.AsyncExitStack() as stack:
        tasks: list[asyncio.Task[None]] = []
        event_log: EventLog
        if bus_url.startswith("nats://"):
            from kefu.bus.jetstream import JetStreamEventLog  # nats-py only when configured

            jetstream = await stack.enter_async_context(
                JetStreamEventLog(bus_url, settings, lanes=LANES.get(db.dialect, 1))
            )
            relay = OutboxRelay(db, jetstream, batch=settings.batch)
            tasks.append(asyncio.create_task(relay.run()))
            event_log, wake, handoff = jetstream, relay.wake, None
        else:
            store_log = StoreEventLog(
                db,
                clock,
                batch=settings.batch,
                max_attempts=settings.max_attempts,
                backoff_seconds=settings.jetstream.backoff_seconds,
            )
            stack.push_async_callback(store_log.close)
            event_log, wake, handoff = store_log, store_log.wake, store_log.handoff
        processor = _processor(
            db, clock, settings, rules, routing, customers, hub, tickets, webhooks, wake, handoff
        )
        tasks.append(asyncio.create_task(event_log.consume(CONSUMER, processor.handle)))
        keep = timedelta(hours=settings.dedupe_retention_hours)
        tasks.append(asyncio.create_task(run_pruner(db, clock, keep)))
        try:
            yield event_log
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _processor(
    db: Database,
    clock: Clock,
    settings: EventSettings,
    rules: Sequence[Rule],
    routing: CustomerRoutingRepository,
    customers: Customer360,
    hub: Hub,
    tickets: TicketEffects | None,
    webhooks: WebhookEffects | None,
    wake: Any,
    handoff: Any,
) -> EventProcessor:
    return EventProcessor(
        db,
        rules,
        clock,
        routing=routing,
        customer=customer_loader(customers),
        tickets=tickets,
        webhooks=webhooks,
        notify=live_notifier(hub),
        max_attempts=settings.max_attempts,
        wake=wake,
        handoff=handoff,
    )
