"""The rules consumer: events in, effects stored, each event's effect applied once.

Per batch: drop events already processed; evaluate the rules (reading the customer 360
once per customer when a rule needs it); then ONE transaction stores the processed ids
and every effect — tickets, routing, webhook deliveries, emitted events (outbox). Live
notifications go out after the commit. If the batch transaction fails, events are tried
one by one so a poison event fails alone (RETRY, then DEAD with its reason).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from msgspec.structs import replace

from kefu.domain.envelope import Event
from kefu.domain.roles import Role
from kefu.errors import KefuError
from kefu.events.effects import CustomerLoader as CustomerLoader
from kefu.events.effects import Notifier as Notifier
from kefu.events.effects import SagaEffects as SagaEffects
from kefu.events.effects import TicketChange as TicketChange
from kefu.events.effects import TicketEffects as TicketEffects
from kefu.events.effects import TicketSpec as TicketSpec
from kefu.events.effects import WebhookEffects as WebhookEffects
from kefu.events.log import DONE, Outcome, Received, Result
from kefu.events.rules import (
    TEMPLATE_FIELD,
    Assign,
    CallWebhook,
    CreateTicket,
    Emit,
    Notify,
    RouteCustomer,
    Rule,
    SetPriority,
    StartSaga,
    TicketFromOfflineMessage,
    lookup,
    matches,
    missing,
    render,
)
from kefu.observability.metrics import EVENTS_PROCESSED
from kefu.ports import Clock
from kefu.store.processed_events import ProcessedEvents, driver_error
from kefu.store.unit_of_work import Emitted, Units

log = logging.getLogger(__name__)

CONSUMER = "rules"
LISTENING_CACHE = 10_000  # event types remembered as listened to (or not) by some rule
CUSTOMER_FETCHES = 16  # customer 360s one batch may have in flight at once


class _Listeners(NamedTuple):
    """Who listens to one event type, for one batch."""

    rules: list[Rule]
    subscribers: list[str]  # console webhooks asking for the type
    reads_customer: bool  # some rule needs the customer 360


class _Plan:
    """Everything one event's matching rules will do. A plain slotted class: one is made
    per event, and a dataclass's eight ``default_factory`` calls cost more than the
    rule they hold (measured in bench/README.md, "Events")."""

    __slots__ = (
        "changes",
        "dead",
        "emits",
        "event",
        "notices",
        "offline",
        "routes",
        "sagas",
        "tickets",
        "webhooks",
    )

    def __init__(self, event: Event) -> None:
        self.event = event
        self.tickets: list[TicketSpec] = []
        self.changes: list[TicketChange] = []
        self.offline: list[tuple[str, str, str]] = []  # id, priority, rule
        self.routes: list[tuple[str, str, str]] = []  # key, queue, rule
        self.webhooks: list[str] = []
        self.emits: list[Event] = []
        self.notices: list[tuple[Role, str, str]] = []  # role, text, rule
        # saga name, input, idempotency key, rule
        self.sagas: list[tuple[str, dict[str, Any], str, str]] = []
        # Set when a rule with ``on_missing: dead_letter`` lacks a required field: the
        # event goes to the dead letters with this reason and none of its rules act.
        self.dead: str | None = None

    @property
    def effective(self) -> bool:
        return bool(
            self.tickets
            or self.changes
            or self.offline
            or self.routes
            or self.webhooks
            or self.emits
            or self.notices
            or self.sagas
        )


class EventProcessor:
    def __init__(
        self,
        units: Units,
        rules: Sequence[Rule],
        clock: Clock,
        *,
        processed: ProcessedEvents,
        customer: CustomerLoader,
        tickets: TicketEffects | None = None,
        webhooks: WebhookEffects | None = None,
        notify: Notifier | None = None,
        sagas: SagaEffects | None = None,
        max_attempts: int = 5,
        wake: Callable[[], None] | None = None,
        handoff: Callable[[Emitted], None] | None = None,
    ) -> None:
        # Units of work for the effects: collecting ones (``collect=True``) when there is
        # a ``handoff``, so what they emitted can be handed over once committed.
        self._units = units
        self._processed = processed
        self._rules = list(rules)
        self._clock = clock
        self._customer = customer
        self._tickets = tickets
        self._webhooks = webhooks
        self._notify = notify
        self._sagas = sagas
        self._max_attempts = max_attempts
        self._wake = wake
        # Given (the store log): what the effects emitted goes straight to the consumer
        # after the commit instead of being read back from the outbox.
        self._handoff = handoff
        self._matching: dict[str, list[Rule]] = {}

    async def handle(self, batch: Sequence[Received]) -> list[Result]:
        results: list[Result] = [DONE] * len(batch)
        # Who listens to each type, once per batch (a batch holds few types): the rules
        # that match it and the console webhooks asking for it, read once for the batch.
        listening = self._listening({item.event.type for item in batch})
        # An event no rule listens to has no effect to apply once: done, no store trip.
        relevant = [i for i, item in enumerate(batch) if item.event.type in listening]
        if not relevant:
            return results
        fresh = await self._not_yet_processed([batch[i] for i in relevant])
        fresh = [relevant[i] for i in fresh]
        if not fresh:
            return results
        planned = await self._plan([batch[i].event for i in fresh], listening)
        for index, plan in zip(fresh, planned, strict=True):
            if plan.dead is not None:
                results[index] = Result(Outcome.DEAD, plan.dead)
        # Only events with effects are recorded: a condition that did not hold changes
        # nothing, so there is nothing a redelivery could apply twice.
        kept = [
            (i, plan)
            for i, plan in zip(fresh, planned, strict=True)
            if plan.effective and plan.dead is None
        ]
        if not kept:
            return results
        fresh = [i for i, _ in kept]
        plans = [plan for _, plan in kept]
        try:
            await self._store(plans)
        except Exception as exc:
            log.warning("event batch of %d failed (%s); isolating", len(plans), exc)
            stored = []
            for index, plan in zip(fresh, plans, strict=True):
                results[index], mine = await self._one_by_one(plan, batch[index].attempt)
                if mine:
                    stored.append(plan)
            # Notifications only for effects this consumer stored: an event another batch
            # or node stored first is DONE here but was announced there.
            self._after_commit(stored)
            return results
        self._after_commit(plans)
        return results

    def _listening(self, types: set[str]) -> dict[str, _Listeners]:
        """Per type that anything listens to: its rules and webhook subscribers."""
        found = {}
        for event_type in types:
            rules = self._rules_for(event_type)
            subscribers = self._subscribers(event_type)
            if rules or subscribers:
                reads = any(rule.reads_customer for rule in rules)
                found[event_type] = _Listeners(rules, subscribers, reads)
        return found

    def _subscribers(self, event_type: str) -> list[str]:
        """Console webhooks asking for this type (they change at run time: not cached)."""
        return self._webhooks.subscribers(event_type) if self._webhooks is not None else []

    def _rules_for(self, event_type: str) -> list[Rule]:
        """The rules whose patterns match ``event_type`` (remembered per type)."""
        known = self._matching.get(event_type)
        if known is None:
            known = [rule for rule in self._rules if _matches_type(rule, event_type)]
            if len(self._matching) < LISTENING_CACHE:
                self._matching[event_type] = known
        return known

    async def _one_by_one(self, plan: _Plan, attempt: int) -> tuple[Result, bool]:
        """The plan stored alone: its result, and whether this call stored it."""
        try:
            await self._store([plan])
            return DONE, True
        except Exception as exc:
            if await self._already(plan.event.id):
                # Stored first by another batch in flight or a redelivery elsewhere.
                return DONE, False
            reason = _reason(exc)
            outcome = Outcome.DEAD if attempt >= self._max_attempts else Outcome.RETRY
            return Result(outcome, reason), False

    async def _not_yet_processed(self, batch: Sequence[Received]) -> list[int]:
        done = await self._processed.among(CONSUMER, list({i.event.id for i in batch}))
        seen: set[str] = set()
        fresh = []
        for index, item in enumerate(batch):
            event_id = item.event.id
            if event_id in done or event_id in seen:
                continue  # processed before, or twice in this very batch
            seen.add(event_id)
            fresh.append(index)
        return fresh

    async def _already(self, event_id: str) -> bool:
        return await self._processed.seen(CONSUMER, event_id)

    # ---- evaluation (no writes) ----------------------------------------------------------

    async def _plan(
        self, events: Sequence[Event], listening: Mapping[str, _Listeners]
    ) -> list[_Plan]:
        wanted = {
            event.customer_key
            for event in events
            if event.customer_key and listening[event.type].reads_customer
        }
        customers = await self._customers(wanted)
        plans = []
        for event in events:
            plan = _Plan(event)
            rules, subscribers, _ = listening[event.type]
            if rules:
                context = _context(event, customers.get(event.customer_key or ""))
                for rule in rules:
                    gone = missing(rule.required, context) if rule.required else []
                    if gone:
                        # "refuse" rules were checked at POST; from NATS they do not act.
                        if rule.on_missing == "dead_letter":
                            plan.dead = f"rule {rule.name!r} requires {', '.join(gone)}"
                        continue
                    # Its pattern matched (_rules_for); most rules have no conditions,
                    # and the call to check none costs more than the check.
                    if not rule.conditions or rule.holds(context):
                        self._add(plan, rule, context)
            if plan.dead is None:
                for endpoint in subscribers:
                    if endpoint not in plan.webhooks:
                        plan.webhooks.append(endpoint)
            plans.append(plan)
        return plans

    async def _customers(self, keys: set[str]) -> dict[str, Mapping[str, Any]]:
        if not keys:
            return {}
        # Bounded: a batch of complaints from a thousand customers must not become a
        # thousand simultaneous 360s against the departments' systems.
        gate = asyncio.Semaphore(CUSTOMER_FETCHES)

        async def load(key: str) -> Mapping[str, Any] | None:
            async with gate:
                return await self._customer(key)

        found = await asyncio.gather(*(load(key) for key in keys))
        return {key: view for key, view in zip(keys, found, strict=True) if view is not None}

    def _add(self, plan: _Plan, rule: Rule, context: Mapping[str, Any]) -> None:
        event = plan.event
        made: TicketSpec | None = None
        for index, action in enumerate(rule.actions):
            if isinstance(action, CreateTicket):
                made = TicketSpec(
                    subject=render(action.subject, context)[:300] or rule.name,
                    body=render(action.body, context),
                    priority=action.priority,
                    customer_key=event.customer_key,
                    queue=action.queue,
                    assignee_email=action.assignee,
                    role=action.role,
                    rule=rule.name,
                    event_id=event.id,
                )
                plan.tickets.append(made)
            elif isinstance(action, TicketFromOfflineMessage):
                offline_id = context.get("data", {}).get("offline_message_id")
                if isinstance(offline_id, str) and offline_id:
                    plan.offline.append((offline_id, action.priority, rule.name))
            elif isinstance(action, SetPriority | Assign):
                self._ticket_action(plan, rule, action, made, context)
            elif isinstance(action, RouteCustomer):
                if event.customer_key:
                    plan.routes.append((event.customer_key, action.queue, rule.name))
            elif isinstance(action, CallWebhook):
                plan.webhooks.append(action.endpoint)
            elif isinstance(action, Emit):
                plan.emits.append(
                    Event(
                        id=_derived_id(event.id, rule.name, index),
                        type=action.type,
                        data=_render_data(action.data, context),
                        customer_key=event.customer_key,
                        occurred_at=self._clock.now().isoformat(),
                        source=f"rule:{rule.name}",
                    )
                )
            elif isinstance(action, Notify):
                plan.notices.append((action.role, render(action.message, context), rule.name))
            elif isinstance(action, StartSaga):
                self._saga_action(plan, rule, action, index, context)

    def _saga_action(
        self, plan: _Plan, rule: Rule, action: StartSaga, index: int, context: Mapping[str, Any]
    ) -> None:
        given = _typed(action.input, context)
        if self._sagas is None:
            raise RuntimeError("a rule starts a saga but sagas are not wired")
        try:
            self._sagas.check(action.name, given)
        except KefuError as exc:
            # The message names the field, never its value (it may be customer data).
            log.warning("rule %s: saga %s not started: %s", rule.name, action.name, exc.message)
            return
        key = f"rule:{_derived_id(plan.event.id, rule.name, index)}"
        plan.sagas.append((action.name, given, key, rule.name))

    def _ticket_action(
        self,
        plan: _Plan,
        rule: Rule,
        action: SetPriority | Assign,
        made: TicketSpec | None,
        context: Mapping[str, Any],
    ) -> None:
        if made is not None:  # fold into the ticket this rule creates
            if isinstance(action, SetPriority):
                made.priority = action.priority
            else:
                made.queue, made.role, made.assignee_email = action.queue, action.role, action.agent
            return
        raw = context.get("data", {}).get("ticket_id")
        try:
            ticket_id = int(raw)
        except (TypeError, ValueError):
            return  # nothing to act on: the event names no ticket
        change = TicketChange(ticket_id, rule.name)
        if isinstance(action, SetPriority):
            change = replace(change, priority=action.priority)
        else:
            change = replace(
                change, queue=action.queue, role=action.role, assignee_email=action.agent
            )
        plan.changes.append(change)

    # ---- effects (one transaction) ------------------------------------------------------

    async def _store(self, plans: Sequence[_Plan]) -> None:
        """Store the plans' effects in one unit of work. What they push live (a ticket's
        frames to consoles) waits for its commit; with a ``handoff`` the unit keeps what it
        emitted, given to the consumer once committed."""
        started = time.perf_counter()
        now = self._clock.now()
        async with self._units() as uow:
            if self._handoff is not None and not uow.collecting:
                raise RuntimeError("a hand-off needs units of work made with collect=True")
            await uow.processed.record(CONSUMER, [plan.event.id for plan in plans], now)
            specs = [spec for plan in plans for spec in plan.tickets]
            changes = [change for plan in plans for change in plan.changes]
            offline = [item for plan in plans for item in plan.offline]
            if (specs or changes or offline) and self._tickets is None:
                raise RuntimeError("a rule acts on tickets but no ticket service is wired")
            if specs and self._tickets is not None:
                created = await self._tickets.create_for_rules(uow, specs, now)
                for spec, ticket_id in zip(specs, created, strict=True):
                    spec.created_id = ticket_id
            if changes and self._tickets is not None:
                await self._tickets.change_for_rules(uow, changes, now)
            for offline_id, priority, rule in offline:
                if self._tickets is not None:
                    await self._tickets.from_offline_message(uow, offline_id, priority, rule)
            for plan in plans:
                for key, queue, rule in plan.routes:
                    await uow.routing.set_queue(key, queue, f"rule:{rule}", now)
                for endpoint in plan.webhooks:
                    if self._webhooks is None:
                        raise RuntimeError("a rule calls a webhook but webhooks are not wired")
                    await self._webhooks.enqueue(uow, endpoint, plan.event, now)
                for name, given, key, rule in plan.sagas:
                    if self._sagas is not None:
                        await self._sagas.create_in(
                            uow, name, given, plan.event.customer_key, key, f"rule:{rule}"[:60]
                        )
            emitted = [event for plan in plans for event in plan.emits]
            await uow.emit(emitted, now)
        if self._handoff is not None:
            self._handoff(uow.emitted)  # committed: the consumer may take them now
        EVENTS_PROCESSED.inc(len(plans))
        log.debug(
            "stored effects of %d events in %.1f ms",
            len(plans),
            (time.perf_counter() - started) * 1000,
        )

    def _after_commit(self, plans: Sequence[_Plan]) -> None:
        if any(plan.emits for plan in plans) and self._wake is not None and not self._handoff:
            self._wake()
        if self._notify is None:
            return
        for plan in plans:
            for role, text, rule in plan.notices:
                ticket = next((t.created_id for t in plan.tickets if t.rule == rule), None)
                self._notify(role, text, plan.event, rule, ticket)


def _reason(exc: Exception) -> str:
    """Why an event failed, for the dead letter an admin reads: the driver's own message
    for a store error."""
    exc = driver_error(exc)
    return f"{type(exc).__name__}: {exc}"[:500]


def _matches_type(rule: Rule, event_type: str) -> bool:
    return any(matches(pattern, event_type) for pattern in rule.patterns)


def _context(event: Event, customer: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "data": event.data,
        "customer": customer or {},
        "customer_key": event.customer_key,
        "event": {"id": event.id, "type": event.type, "source": event.source},
    }


def _render_data(data: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: render(value, context) if isinstance(value, str) else value
        for key, value in data.items()
    }


def _typed(value: Any, context: Mapping[str, Any]) -> Any:
    """A saga input template filled in: ``"{data.amount}"`` alone keeps the value's type
    (a number stays a number); text around placeholders renders to text."""
    if isinstance(value, str):
        whole = TEMPLATE_FIELD.fullmatch(value)
        return lookup(context, whole.group(1)) if whole else render(value, context)
    if isinstance(value, Mapping):
        return {key: _typed(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item, context) for item in value]
    return value


def _derived_id(event_id: str, rule: str, index: int) -> str:
    """Deterministic: the same event through the same rule always emits the same id."""
    digest = hashlib.blake2b(f"{event_id}|{rule}|{index}".encode(), digest_size=12).hexdigest()
    return f"evt_r{digest}"
