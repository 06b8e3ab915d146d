"""The ticket JSON and the events every ticket change emits: one schema each.

The REST API answers with ``ticket_payload`` and ``ticket.created`` carries the same
object, so a webhook consumer and an API client read one shape. Each event's ``data``
has a msgspec schema in ``EVENT_SCHEMAS``; tests check every emitted event against it.

- ``ticket.created``: ``ticket_id``, ``ticket`` (the ticket JSON), ``actor``
- ``ticket.updated``: ``ticket_id``, ``changes`` ``{field: {"before", "after"}}`` (the
  fields changed and the SLA fields that moved with them: due dates, ``solved_at``,
  ``paused_at``), ``actor``
- ``ticket.commented``: ``ticket_id``, ``comment_id``, ``internal``, ``author``,
  ``author_name``, ``body``
- ``ticket.sla.warning`` and ``ticket.sla.breached``: ``ticket_id``, ``target``
  (``first_response`` or ``resolution``), ``due_at``, ``policy``, ``priority``

The envelope's ``customer_key`` is the ticket's, so rules can route on the customer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Literal

import msgspec

from kefu.domain.envelope import Event, new_event_id
from kefu.domain.sla import Alarm
from kefu.domain.tickets import SlaAlarm, Ticket, TicketComment
from kefu.timefmt import iso as _iso

SOURCE = "kefu.tickets"
CREATED = "ticket.created"
UPDATED = "ticket.updated"
COMMENTED = "ticket.commented"
SLA_WARNING = "ticket.sla.warning"
SLA_BREACHED = "ticket.sla.breached"
SLA_EVENT = {SlaAlarm.WARNING: SLA_WARNING, SlaAlarm.BREACH: SLA_BREACHED}


# A batch of rule tickets shares its created_at and due dates: each formatted once.
iso = functools.lru_cache(maxsize=256)(_iso)


def format_ticket_id(ticket_id: int) -> str:
    """On the wire ids are strings ("1042"): JSON numbers lose precision in JavaScript
    past 2^53, and every other kefu id is a string."""
    return str(ticket_id)


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    sla = ticket.sla
    return {
        "id": format_ticket_id(ticket.id),
        "subject": ticket.subject,
        "body": ticket.body,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "customer_key": ticket.customer_key,
        "assignee_id": ticket.assignee_id,
        "queue": ticket.queue,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel.value,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "sla": {
            "policy": sla.policy,
            "first_response_due_at": _when(sla.first_response_due_at),
            "resolution_due_at": _when(sla.resolution_due_at),
            "first_responded_at": _when(sla.first_responded_at),
            "solved_at": _when(sla.solved_at),
            "warned_at": _when(sla.warned_at),
            "breached_at": _when(sla.breached_at),
            "paused_at": _when(sla.paused_at),
        },
    }


def comment_payload(comment: TicketComment) -> dict[str, Any]:
    return {
        "id": str(comment.id),
        "ticket_id": format_ticket_id(comment.ticket_id),
        "author": comment.author,
        "author_name": comment.author_name,
        "body": comment.body,
        "internal": comment.internal,
        "created_at": iso(comment.created_at),
    }


def _event(event_type: str, ticket: Ticket, data: dict[str, Any], now: datetime) -> Event:
    return Event(
        id=new_event_id(),
        type=event_type,
        data={"ticket_id": format_ticket_id(ticket.id), **data},
        customer_key=ticket.customer_key,
        occurred_at=iso(now),
        source=SOURCE,
    )


def created(ticket: Ticket, actor: str | None, now: datetime) -> Event:
    return _event(CREATED, ticket, {"ticket": ticket_payload(ticket), "actor": actor}, now)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    return value


def plain_changes(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    """``{field: {"before", "after"}}`` with enums and times as their JSON strings."""
    return {
        name: {"before": _plain(before), "after": _plain(after)}
        for name, (before, after) in changes.items()
    }


def updated(
    ticket: Ticket, changes: Mapping[str, tuple[Any, Any]], actor: str | None, now: datetime
) -> Event:
    return _event(UPDATED, ticket, {"changes": plain_changes(changes), "actor": actor}, now)


def commented(ticket: Ticket, comment: TicketComment, now: datetime) -> Event:
    data = {
        "comment_id": str(comment.id),
        "internal": comment.internal,
        "author": comment.author,
        "author_name": comment.author_name,
        "body": comment.body,
    }
    return _event(COMMENTED, ticket, data, now)


def sla_alarm(ticket: Ticket, alarm: Alarm, now: datetime) -> Event:
    data = {
        "target": alarm.target.value,
        "due_at": iso(alarm.due_at),
        "policy": ticket.sla.policy,
        "priority": ticket.priority.value,
    }
    return _event(SLA_EVENT[alarm.kind], ticket, data, now)


# ---- schemas ----------------------------------------------------------------------------
# Unknown fields are refused here (forbid_unknown_fields): the test that checks emitted
# events against these catches a field added to an event but not to its schema.


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class SlaJson(_Strict):
    policy: str | None
    first_response_due_at: str | None
    resolution_due_at: str | None
    first_responded_at: str | None
    solved_at: str | None
    warned_at: str | None
    breached_at: str | None
    # Set while the resolution clock is paused (the ticket is pending).
    paused_at: str | None


class TicketItemJson(_Strict):
    """A ticket as a list row shows it (live frames carry this: no ``body``)."""

    id: str
    subject: str
    status: Literal["new", "open", "pending", "solved", "closed"]
    priority: Literal["low", "normal", "high", "urgent"]
    customer_key: str | None
    assignee_id: str | None
    queue: str | None
    conversation_id: str | None
    channel: Literal["console", "api", "conversation", "offline", "rule"]
    created_at: str
    updated_at: str
    sla: SlaJson


class TicketJson(TicketItemJson):
    body: str


class Change(_Strict):
    before: str | None
    after: str | None


class CreatedData(_Strict):
    ticket_id: str
    ticket: TicketJson
    actor: str | None


class UpdatedData(_Strict):
    ticket_id: str
    # The fields a PATCH changed, and the SLA columns that moved with them.
    changes: dict[
        Literal[
            "status",
            "priority",
            "assignee_id",
            "queue",
            "solved_at",
            "first_response_due_at",
            "resolution_due_at",
            "paused_at",
        ],
        Change,
    ]
    actor: str | None


class CommentedData(_Strict):
    ticket_id: str
    comment_id: str
    internal: bool
    author: str | None
    author_name: str | None
    body: str


class SlaData(_Strict):
    ticket_id: str
    target: Literal["first_response", "resolution"]
    due_at: str
    policy: str | None
    priority: Literal["low", "normal", "high", "urgent"]


EVENT_SCHEMAS: dict[str, type[_Strict]] = {
    CREATED: CreatedData,
    UPDATED: UpdatedData,
    COMMENTED: CommentedData,
    SLA_WARNING: SlaData,
    SLA_BREACHED: SlaData,
}


def check(event: Event) -> None:
    """Raise ``msgspec.ValidationError`` unless ``event.data`` fits its type's schema."""
    msgspec.convert(event.data, EVENT_SCHEMAS[event.type])
