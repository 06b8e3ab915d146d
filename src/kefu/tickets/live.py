"""Keeps agent consoles' ticket lists and open ticket views live.

Every change the ticket service commits (REST, console, rules, the SLA watcher) becomes
one frame, encoded once and sent as the same bytes to the agents it concerns:

- ``ticket.created``: ``ticket`` (the list item), ``actor``;
- ``ticket.updated``: ``ticket`` (the list item after the change), ``changes``
  ``{field: {"before", "after"}}``, ``actor``, and ``comment`` when a comment or an
  internal note was added.

The list item is the ticket JSON without ``body`` (the description never changes after
creation, and can be an email's length), with ``sla_status`` judged at the commit
(``kefu.tickets.sla_json``): what a list row and a ticket view's header, fields and SLA
badge show.

Addressed from the hub's index of online agents, with no query: supervisors and admins,
the assignee, the previous assignee on reassignment, the acting agent (their other tabs),
and every online agent while the ticket is unassigned or just stopped being (the shared
queue every console lists). Only agent keys, ever: an internal note never reaches a
visitor's socket. Frames go out after the commit (the unit of work's ``after_commit``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Literal, Protocol

import msgspec
from msgspec import UNSET

from kefu.auth.principal import agent_key
from kefu.chat import server_frames
from kefu.cluster.envelope import Audience
from kefu.domain.sla_status import SlaStatus
from kefu.domain.ticket_json import (
    ChangeJson,
    CommentJson,
    LiveTicketJson,
    comment_json,
    live_ticket_json,
)
from kefu.domain.tickets import SlaState, Ticket, TicketComment, TicketStatus
from kefu.tickets.events import plain_changes

CREATED = "ticket.created"
UPDATED = "ticket.updated"
AGENT_PREFIX = "agent:"


class LiveHub(Protocol):
    """The part of ``kefu.chat.hub.Hub`` the feed uses."""

    def may_reach(self, audience: Audience) -> bool: ...

    def send(
        self,
        keys: Collection[str],
        frame: bytes,
        conversation_id: str | None = None,
        message_id: int | None = None,
        skip: str | None = None,
        audience: Audience = Audience.NONE,
    ) -> None: ...


class TicketFeed:
    def __init__(self, hub: LiveHub, judge: Callable[[Ticket], SlaStatus]) -> None:
        self._hub = hub
        # The ticket service's SLA verdict at the moment the frame is built: a function
        # of the ticket's status and SLA state (and the moment), nothing else.
        self._judge = judge

    def created(self, tickets: Iterable[Ticket], actor: str | None) -> None:
        # A rule's batch of tickets shares one SLA state per policy and priority and is
        # all new: judged once per distinct (status, SLA state), not per ticket (the
        # business-hours arithmetic cost more than the rest of the frame).
        verdicts: dict[tuple[TicketStatus, SlaState], SlaStatus] = {}
        for ticket in tickets:
            keys, audience = self._addressees(ticket, actor, was_unassigned=False)
            # A rule's bulk tickets with nobody online cost no payload.
            if keys or self._hub.may_reach(audience):
                verdict = verdicts.get((ticket.status, ticket.sla))
                if verdict is None:
                    verdict = verdicts[ticket.status, ticket.sla] = self._judge(ticket)
                item = live_ticket_json(ticket, verdict)
                frame = server_frames.TicketCreated(item, actor)
                self._hub.send(keys, server_frames.encode(frame), audience=audience)

    def updated(
        self,
        ticket: Ticket,
        changes: Mapping[str, tuple[Any, Any]],
        actor: str | None,
        comment: TicketComment | None = None,
    ) -> None:
        """``ticket`` as committed; ``changes`` ``{field: (before, after)}`` as the
        ``ticket.updated`` event names them."""
        assignee = changes.get("assignee_id")
        previous = assignee[0] if assignee is not None else ticket.assignee_id
        keys, audience = self._addressees(
            ticket, actor, was_unassigned=previous is None, also=previous
        )
        if not keys and not self._hub.may_reach(audience):
            return
        frame = server_frames.TicketUpdated(
            live_ticket_json(ticket, self._judge(ticket)),
            {
                name: ChangeJson(change["before"], change["after"])
                for name, change in plain_changes(changes).items()
            },
            actor,
            comment_json(comment) if comment is not None else UNSET,
        )
        self._hub.send(keys, server_frames.encode(frame), audience=audience)

    def _addressees(
        self,
        ticket: Ticket,
        actor: str | None,
        *,
        was_unassigned: bool,
        also: str | None = None,
    ) -> tuple[set[str], Audience]:
        """The agents named (assignee, previous assignee, actor) and the online agents
        addressed as a group, which each node resolves for itself (several nodes)."""
        everyone = was_unassigned or ticket.assignee_id is None
        audience = Audience.AGENTS if everyone else Audience.SUPERVISORS
        keys: set[str] = set()
        for agent_id in (ticket.assignee_id, also):
            if agent_id is not None:
                keys.add(agent_key(agent_id))
        if actor is not None and actor.startswith(AGENT_PREFIX):
            keys.add(actor)
        return keys, audience


# ---- schemas ----------------------------------------------------------------------------
# The frames' one schema each; tests decode every frame they receive with these. Unknown
# fields are refused here so a field added to a frame but not to its schema is caught.


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class CreatedFrame(_Strict, tag=CREATED, tag_field="type"):
    ticket: LiveTicketJson
    actor: str | None


ChangedField = Literal[
    "status",
    "priority",
    "assignee_id",
    "queue",
    "solved_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "paused_at",
    "warned_at",
    "breached_at",
]


class UpdatedFrame(_Strict, tag=UPDATED, tag_field="type"):
    ticket: LiveTicketJson
    changes: dict[ChangedField, ChangeJson]
    actor: str | None
    comment: CommentJson | None = None


TicketFrame = CreatedFrame | UpdatedFrame


def check(raw: bytes | str) -> TicketFrame:
    """Decode a ticket frame, raising ``msgspec.ValidationError`` unless it fits."""
    frame: TicketFrame = msgspec.json.decode(raw, type=TicketFrame)
    return frame
