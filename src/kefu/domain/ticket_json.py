"""The ticket JSON: one msgspec Struct per shape, what every surface encodes.

REST answers (``kefu.api.routes.tickets``, through ``msgspec.to_builtins``), the
``ticket.*`` events' ``data`` (``kefu.tickets.events``) and the live ``ticket.created`` /
``ticket.updated`` frames (``kefu.chat.server_frames``, encoded as they are) are built
here from the domain objects, so the shape is written once. The Structs refuse unknown
fields when decoding: tests decode what the server sends with them, so a field added on
one side only is caught.

Here rather than in ``kefu.tickets`` because the chat's frame union names them and
``kefu.tickets`` already depends on ``kefu.chat`` (no package cycle). Plain data and pure
functions of domain objects: no I/O.
"""

from __future__ import annotations

import functools
from datetime import datetime

import msgspec

from kefu.domain.sla_status import SlaStatus, SlaVerdict
from kefu.domain.tickets import (
    Channel,
    Priority,
    SlaTarget,
    Ticket,
    TicketComment,
    TicketStatus,
)
from kefu.timefmt import iso as _iso

# A batch of rule tickets shares its created_at and due dates: each formatted once.
iso = functools.lru_cache(maxsize=256)(_iso)


class _Strict(msgspec.Struct, forbid_unknown_fields=True, gc=False):
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


class SlaStatusJson(_Strict):
    """``sla_status``: the SLA verdict judged when the server answered or committed
    (``kefu.domain.sla_status``), so a console shows it instead of a copy of the rules."""

    state: SlaVerdict
    target: SlaTarget | None
    due_at: str | None
    warning_at: str | None
    remaining_minutes: float | None
    paused: bool
    as_of: str


class TicketItemJson(_Strict, kw_only=True):
    """A ticket as a list row shows it (no ``body``: it never changes after creation and
    can be an email's length)."""

    id: str
    subject: str
    status: TicketStatus
    priority: Priority
    customer_key: str | None
    assignee_id: str | None
    queue: str | None
    conversation_id: str | None
    channel: Channel
    created_at: str
    updated_at: str
    sla: SlaJson


class TicketJson(TicketItemJson, kw_only=True):
    """The whole ticket: REST answers and the ``ticket.created`` event."""

    body: str


class LiveTicketJson(TicketItemJson, kw_only=True):
    """The list row with its verdict: what ``ticket.created`` / ``ticket.updated`` frames
    carry."""

    sla_status: SlaStatusJson


class ChangeJson(_Strict):
    """One changed field of ``ticket.updated`` (frame and event): before and after, as
    their JSON strings (enums by value, moments as ISO 8601)."""

    before: str | None
    after: str | None


class CommentJson(_Strict):
    id: str
    ticket_id: str
    author: str | None
    author_name: str | None
    body: str
    internal: bool
    created_at: str


def format_ticket_id(ticket_id: int) -> str:
    """On the wire ids are strings ("1042"): JSON numbers lose precision in JavaScript
    past 2^53, and every other kefu id is a string."""
    return str(ticket_id)


def _when(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def sla_json(ticket: Ticket) -> SlaJson:
    sla = ticket.sla
    return SlaJson(
        sla.policy,
        _when(sla.first_response_due_at),
        _when(sla.resolution_due_at),
        _when(sla.first_responded_at),
        _when(sla.solved_at),
        _when(sla.warned_at),
        _when(sla.breached_at),
        _when(sla.paused_at),
    )


def sla_status_json(status: SlaStatus) -> SlaStatusJson:
    minutes = status.remaining_minutes
    return SlaStatusJson(
        status.state,
        status.target,
        _when(status.due_at),
        _when(status.warning_at),
        round(minutes, 2) if minutes is not None else None,
        status.paused,
        _iso(status.as_of),
    )


def ticket_json(ticket: Ticket) -> TicketJson:
    return TicketJson(
        id=format_ticket_id(ticket.id),
        subject=ticket.subject,
        body=ticket.body,
        status=ticket.status,
        priority=ticket.priority,
        customer_key=ticket.customer_key,
        assignee_id=ticket.assignee_id,
        queue=ticket.queue,
        conversation_id=ticket.conversation_id,
        channel=ticket.channel,
        created_at=iso(ticket.created_at),
        updated_at=iso(ticket.updated_at),
        sla=sla_json(ticket),
    )


def live_ticket_json(ticket: Ticket, status: SlaStatus) -> LiveTicketJson:
    return LiveTicketJson(
        id=format_ticket_id(ticket.id),
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        customer_key=ticket.customer_key,
        assignee_id=ticket.assignee_id,
        queue=ticket.queue,
        conversation_id=ticket.conversation_id,
        channel=ticket.channel,
        created_at=iso(ticket.created_at),
        updated_at=iso(ticket.updated_at),
        sla=sla_json(ticket),
        sla_status=sla_status_json(status),
    )


def comment_json(comment: TicketComment) -> CommentJson:
    return CommentJson(
        str(comment.id),
        format_ticket_id(comment.ticket_id),
        comment.author,
        comment.author_name,
        comment.body,
        comment.internal,
        iso(comment.created_at),
    )
