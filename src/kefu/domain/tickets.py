"""Tickets: the status machine, priorities, and the records the services pass around.

CONTRACT.md names the main road ``new → open → pending → solved → closed``. Around it,
the moves a Zendesk user expects: a new ticket may go straight to ``pending`` or
``solved``; ``open`` and ``pending`` swap freely; ``solved`` reopens to ``open`` when the
customer writes back. ``closed`` is final: a closed ticket is a record, and a customer who
writes again gets a new ticket, so reports per ticket never change after the fact.

Pure: no I/O, no framework. The store and the API convert at their edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from kefu.domain.errors import IllegalTransition


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"

    @property
    def is_active(self) -> bool:
        """Still somebody's work: the SLA clock runs and the watcher looks at it."""
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING})

TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED}),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.SOLVED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.SOLVED}),
    TicketStatus.SOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}


def can_transition(current: TicketStatus, target: TicketStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: TicketStatus, target: TicketStatus) -> None:
    """Raise ``IllegalTransition`` naming both states unless ``current → target`` is allowed.

    Staying in the same state is not a transition: callers treat it as "no change"
    before asking (a PATCH repeating the current status changes nothing).
    """
    if not can_transition(current, target):
        raise IllegalTransition("ticket", current, f"become {target.value!r}")


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Ordering for sorting and for rules ("at least high"): low 0 … urgent 3."""
        return _PRIORITY_RANK[self]

    def at_least(self, other: Priority) -> bool:
        return self.rank >= other.rank


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Channel(StrEnum):
    """How a ticket came to be: reports split work by it, and it says who to answer how."""

    CONSOLE = "console"
    API = "api"
    CONVERSATION = "conversation"
    OFFLINE = "offline"
    RULE = "rule"
    EMAIL = "email"  # a mail posted to POST /api/v1/email/inbound


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class SlaAlarm(StrEnum):
    """The two announcements the SLA watcher makes, each at most once per stamp."""

    WARNING = "warning"
    BREACH = "breach"


class SlaState(msgspec.Struct, frozen=True):
    """The SLA columns of a ticket: targets, what met them, and what was announced."""

    policy: str | None = None
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    solved_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    # The resolution clock, stopped while the ticket is pending (waiting on the customer):
    # when it stopped (None while it runs), and the minutes, counted as the policy counts,
    # that finished pauses have moved ``resolution_due_at`` out by (kefu.domain.sla).
    paused_at: datetime | None = None
    paused_minutes: float = 0.0


class TicketDraft(msgspec.Struct, frozen=True):
    """What a caller asks for; the service adds status, SLA targets and timestamps."""

    subject: str
    body: str
    customer_key: str | None
    channel: Channel
    priority: Priority = Priority.NORMAL
    conversation_id: str | None = None
    assignee_id: str | None = None
    queue: str | None = None
    # Overrides tickets.default_sla_policy (a rule routing VIPs to a stricter policy).
    sla_policy: str | None = None


class NewTicket(msgspec.Struct, frozen=True):
    """A ticket on its way to the store: every column but the id the store assigns."""

    subject: str
    body: str
    status: TicketStatus
    priority: Priority
    customer_key: str | None
    assignee_id: str | None
    queue: str | None
    conversation_id: str | None
    channel: Channel
    created_by: str | None
    created_at: datetime
    sla: SlaState


class Ticket(msgspec.Struct, frozen=True):
    id: int
    subject: str
    body: str
    status: TicketStatus
    priority: Priority
    customer_key: str | None
    assignee_id: str | None
    queue: str | None
    conversation_id: str | None
    channel: Channel
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    sla: SlaState


@dataclass(frozen=True, slots=True)
class TicketComment:
    id: int
    ticket_id: int
    author: str | None  # principal key ("agent:agt_…"); None for the system
    author_name: str | None
    body: str
    internal: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    ticket_id: int
    at: datetime
    actor: str | None
    action: str
    detail: dict[str, Any] | None


# The fields PATCH may change, in the order their history rows are written.
PATCHABLE = ("status", "priority", "assignee_id", "queue")
# History ``action`` per field: short words, as reports group them.
HISTORY_ACTION = {
    "status": "status",
    "priority": "priority",
    "assignee_id": "assignee",
    "queue": "queue",
}


@dataclass(frozen=True, slots=True)
class TicketPatch:
    """The fields a caller wants changed; ``fields`` lists those given (None may unset
    ``assignee_id`` and ``queue``, so "absent" and "null" must differ)."""

    fields: frozenset[str]
    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_id: str | None = None
    queue: str | None = None

    def __post_init__(self) -> None:
        unknown = self.fields - set(PATCHABLE)
        if unknown:
            raise ValueError(f"not patchable: {', '.join(sorted(unknown))}")
        for name in ("status", "priority"):
            if name in self.fields and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")


Change = tuple[Any, Any]


def plan_update(ticket: Ticket, patch: TicketPatch) -> dict[str, Change]:
    """The fields that really change, as ``{field: (before, after)}``, in PATCHABLE order.

    Raises ``IllegalTransition`` for a status move the machine forbids and for any change
    at all to a closed ticket (closed is final for every field, not just the status).
    Values equal to the current ones are dropped: repeating a PATCH changes nothing.
    """
    changes: dict[str, Change] = {}
    for name in PATCHABLE:
        if name not in patch.fields:
            continue
        before, after = getattr(ticket, name), getattr(patch, name)
        if before != after:
            changes[name] = (before, after)
    if changes and ticket.status is TicketStatus.CLOSED:
        raise IllegalTransition("ticket", ticket.status, "be changed")
    if "status" in changes:
        check_transition(ticket.status, changes["status"][1])
    return changes
