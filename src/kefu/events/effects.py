"""What the rules consumer's effects are made of, and the ports it stores them through.

A rule's ticket actions become ``TicketSpec`` / ``TicketChange`` values, stored by a
``TicketEffects`` (the ticket service), webhook calls by a ``WebhookEffects``, saga starts
by a ``SagaEffects``: each in the processor's unit of work, so an event's effects commit
together with its processed id. Separate from ``kefu.events.processor`` so the services
implementing these ports need not import the processor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from kefu.domain.envelope import Event
from kefu.domain.roles import Role
from kefu.store.unit_of_work import StoreUnitOfWork


class TicketSpec(msgspec.Struct):
    """A ticket a rule creates: ``create_ticket`` with later ``set_priority``/``assign``
    of the same rule folded in, so it is written once. A Struct: one is made per event,
    and builds in a fraction of a dataclass's time."""

    subject: str
    body: str
    priority: str
    customer_key: str | None
    queue: str | None
    assignee_email: str | None
    role: Role | None
    rule: str
    event_id: str
    created_id: int | None = None  # filled once stored, for the rule's notifications


class TicketChange(msgspec.Struct):
    """A rule acting on an existing ticket (``data.ticket_id`` of a ticket event)."""

    ticket_id: int
    rule: str
    priority: str | None = None
    queue: str | None = None
    role: Role | None = None
    assignee_email: str | None = None


class TicketEffects(Protocol):
    """Rules' ticket actions, stored in the processor's unit of work."""

    async def create_for_rules(
        self, uow: StoreUnitOfWork, specs: Sequence[TicketSpec], now: datetime
    ) -> list[int]: ...

    async def change_for_rules(
        self, uow: StoreUnitOfWork, changes: Sequence[TicketChange], now: datetime
    ) -> None: ...

    async def from_offline_message(
        self, uow: StoreUnitOfWork, offline_id: str, priority: str, rule: str
    ) -> None: ...


class WebhookEffects(Protocol):
    async def enqueue(
        self, uow: StoreUnitOfWork, endpoint: str, event: Event, now: datetime
    ) -> None:
        """Queue a delivery in ``uow``; the sender is woken once it committed."""
        ...

    def notify(self) -> None: ...

    def subscribers(self, event_type: str) -> list[str]:
        """Endpoints that asked for every event of this type (an admin's console webhooks),
        besides those rules name."""
        ...


class SagaEffects(Protocol):
    """Rules' ``start_saga``: checked while planning, recorded in the processor's unit of
    work (``kefu.sagas.engine.SagaEngine``); the saga runs once that unit commits."""

    def check(self, name: str, given: Any) -> Any:
        """Raise ``KefuError`` (unknown saga, bad input) unless it may start."""
        ...

    async def create_in(
        self,
        uow: StoreUnitOfWork,
        name: str,
        given: Mapping[str, Any],
        customer_key: str | None,
        idempotency_key: str | None,
        created_by: str | None,
    ) -> tuple[str, bool]: ...


Notifier = Callable[[Role, str, Event, str, int | None], None]
"""(role, text, event, rule, the ticket the rule created if any)"""
CustomerLoader = Callable[[str], Awaitable[Mapping[str, Any] | None]]
