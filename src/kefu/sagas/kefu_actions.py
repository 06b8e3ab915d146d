"""``KefuActions`` (``kind: kefu`` steps) on the node's own parts: the ticket service, the
live hub and the outbox.

Applied once per idempotency key: a ticket comment or a new ticket is stored in one unit
of work with a ``processed_events`` row for the key (consumer ``sagas``), so a step
re-run after a crash finds the row and changes nothing (answering ``{"applied": false}``).
An emitted event's id is derived from the key, so every consumer drops a second copy.
A notification is a live frame, not stored: a re-run may show it twice, never lose it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from kefu.auth.principal import agent_key
from kefu.chat import server_frames
from kefu.chat.hub import Hub
from kefu.cluster.envelope import Audience
from kefu.domain.envelope import Event
from kefu.domain.tickets import Channel, Priority, TicketDraft
from kefu.errors import Conflict, KefuError, NotFound
from kefu.ports import Clock
from kefu.sagas.actions.base import ActionFailed
from kefu.store.database import Database
from kefu.store.processed_events import was_processed
from kefu.store.sagas import SagaRepository
from kefu.store.unit_of_work import Units
from kefu.tickets.service import Actor, TicketService

CONSUMER = "sagas"


class NodeKefuActions:
    def __init__(
        self, db: Database, units: Units, tickets: TicketService, hub: Hub, clock: Clock
    ) -> None:
        self._db = db
        self._sagas = SagaRepository(db)
        self._units = units
        self._tickets = tickets
        self._hub = hub
        self._clock = clock

    async def ticket_comment(
        self, *, ticket_id: str, body: str, internal: bool, idempotency_key: str
    ) -> Mapping[str, Any]:
        try:
            number = int(ticket_id)
        except ValueError:
            raise ActionFailed(f"{ticket_id[:40]!r} is not a ticket id", retryable=False) from None

        async def apply(uow: Any) -> Mapping[str, Any]:
            comment = await self._tickets.comment(
                number, body, _actor(idempotency_key), internal=internal, uow=uow
            )
            return {"ticket_id": str(number), "comment_id": str(comment.id), "applied": True}

        async def before() -> Mapping[str, Any]:
            made = await self._sagas.made_by(_actor(idempotency_key).key or "", number)
            found = {"comment_id": str(made[-1])} if made else {}
            return {"ticket_id": str(number), **found, "applied": False}

        return await self._once(idempotency_key, apply, before)

    async def ticket_create(
        self,
        *,
        subject: str,
        body: str,
        customer_key: str | None,
        priority: str,
        queue: str | None,
        idempotency_key: str,
    ) -> Mapping[str, Any]:
        draft = TicketDraft(
            subject=subject,
            body=body,
            customer_key=customer_key,
            channel=Channel.API,
            priority=Priority(priority),
            queue=queue,
        )

        async def apply(uow: Any) -> Mapping[str, Any]:
            ticket = await self._tickets.create(draft, _actor(idempotency_key), uow)
            return {"ticket_id": str(ticket.id), "applied": True}

        async def before() -> Mapping[str, Any]:
            made = await self._sagas.made_by(_actor(idempotency_key).key or "")
            # The saga's one ticket; with several, which one this step made is unknown.
            found = {"ticket_id": str(made[0])} if len(made) == 1 else {}
            return {**found, "applied": False}

        return await self._once(idempotency_key, apply, before)

    async def notify(
        self,
        *,
        message: str,
        role: str | None,
        agent_id: str | None,
        customer_key: str | None,
        idempotency_key: str,
    ) -> Mapping[str, Any]:
        saga = idempotency_key.split(":", 1)[0]
        frame = server_frames.encode(
            server_frames.Notification(
                message,
                f"saga:{saga}",
                None,
                server_frames.EventRef(_event_id(idempotency_key), "saga.notify", customer_key),
            )
        )
        if agent_id is not None:
            self._hub.send([agent_key(agent_id)], frame)
        else:
            audience = Audience.AGENTS if role == "agent" else Audience.SUPERVISORS
            self._hub.send((), frame, audience=audience)
        return {"notified": True}

    async def emit(
        self,
        *,
        type: str,  # the event's field name, as KefuActions names it
        data: Mapping[str, Any],
        customer_key: str | None,
        idempotency_key: str,
    ) -> Mapping[str, Any]:
        now = self._clock.now()
        event = Event(
            id=_event_id(idempotency_key),
            type=type,
            data=dict(data),
            customer_key=customer_key,
            occurred_at=now.isoformat(),
            source="sagas",
        )
        async with self._units() as uow:
            await uow.emit([event], now)
        return {"event_id": event.id}

    async def _once(self, key: str, apply: Any, before: Any) -> Mapping[str, Any]:
        """``apply(uow)`` with the key's processed row in the same unit; when the key was
        applied before, nothing, and ``before()``: what that first run made."""
        if await was_processed(self._db, CONSUMER, key):
            first: Mapping[str, Any] = await before()
            return first
        try:
            async with self._units() as uow:
                await uow.processed.record(CONSUMER, [key], self._clock.now())
                result: Mapping[str, Any] = await apply(uow)
        except (NotFound, Conflict) as exc:
            raise ActionFailed(exc.message, retryable=False) from None
        except KefuError as exc:
            raise ActionFailed(exc.message, retryable=exc.status >= 500) from None
        except Exception:
            # A duplicate key (COPY or INSERT, per store): applied meanwhile elsewhere.
            if await was_processed(self._db, CONSUMER, key):
                again: Mapping[str, Any] = await before()
                return again
            raise
        return result


def _actor(idempotency_key: str) -> Actor:
    saga = idempotency_key.split(":", 1)[0]
    return Actor(f"saga:{saga}"[:60], "saga")


def _event_id(key: str) -> str:
    """The same id for every run of one step: consumers drop the second copy."""
    return "evt_s" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
