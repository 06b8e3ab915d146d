"""The ticket JSON and the events every ticket change emits: one schema each.

The REST API answers with ``ticket_payload`` and ``ticket.created`` carries the same
object, so a webhook consumer and an API client read one shape (its Structs, shared with
the live frames, are in ``kefu.domain.ticket_json``). Each event's ``data``
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

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Literal

import msgspec

from kefu.domain.envelope import Event, new_event_id
from kefu.domain.sla import Alarm
from kefu.domain.ticket_json import (
    ChangeJson,
    TicketJson,
    comment_json,
    format_ticket_id,
    iso,
    ticket_json,
)
from kefu.domain.tickets import SlaAlarm, Ticket, TicketComment

SOURCE = "kefu.tickets"
CREATED = "ticket.created"
UPDATED = "ticket.updated"
COMMENTED = "ticket.commented"
SLA_WARNING = "ticket.sla.warning"
SLA_BREACHED = "ticket.sla.breached"
SLA_EVENT = {SlaAlarm.WARNING: SLA_WARNING, SlaAlarm.BREACH: SLA_BREACHED}


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    """The ticket JSON as plain data (``kefu.domain.ticket_json`` defines it)."""
    payload: dict[str, Any] = msgspec.to_builtins(ticket_json(ticket))
    return payload


def comment_payload(comment: TicketComment) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(comment_json(comment))
    return payload


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


Change = ChangeJson  # the events' name for it


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
