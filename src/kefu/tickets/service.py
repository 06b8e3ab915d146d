"""The ticket service: create, change, comment, and make tickets from chats and offline
messages, each change with its history row and its event in one transaction.

Events go through the outbox (``uow.emit``) in the same unit of work as the change, whose
ticket rows it writes through ``uow.tickets`` (``kefu.store.tickets.TicketsInUnit``): an
event exists exactly when its change committed, and the event log delivers it afterwards
(rules, webhooks, other nodes). The service never holds a database connection.

Every write method accepts a caller's unit of work (``uow``): the rules processor stores
a batch of events' effects in one unit and passes it here, so a ticket a rule creates
commits with the processed-event row that prevents creating it twice. Without one the
service opens its own from the factory it was given.

Given a hub, every committed change is also pushed live to the agent consoles concerned
(``kefu.tickets.live``), after the commit (the unit's ``after_commit``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from msgspec.structs import replace

from kefu.domain.errors import IllegalTransition
from kefu.domain.models import Visitor
from kefu.domain.sla import SlaRules
from kefu.domain.sla_status import SlaStatus, sla_status
from kefu.domain.tickets import (
    HISTORY_ACTION,
    Change,
    HistoryEntry,
    NewTicket,
    Priority,
    SlaState,
    Ticket,
    TicketComment,
    TicketDraft,
    TicketPatch,
    TicketStatus,
    plan_update,
)
from kefu.errors import BadInput, Conflict, NotFound
from kefu.events.outbox import Audience
from kefu.ports import Clock
from kefu.store.repositories import Repositories
from kefu.store.tickets import HistoryRow, TicketFilter
from kefu.store.unit_of_work import StoreUnitOfWork, Units
from kefu.tickets import events
from kefu.tickets.drafting import TRANSCRIPT_MESSAGES, conversation_draft, offline_draft
from kefu.tickets.live import LiveHub, TicketFeed
from kefu.tickets.policies import sla_rules
from kefu.tickets.settings import TicketSettings

# The tickets.subject column's width.
MAX_SUBJECT_CHARS = 300
# A ticket body or comment is an email's worth of prose, with a pasted log at most.
MAX_BODY_CHARS = 50_000
MAX_CUSTOMER_KEY_CHARS = 200  # the column's width
# Team queues, as rules name them (kefu.events.rules): lowercase, a letter first.
QUEUE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
# SLA fields a change may move, and their columns; ``paused_minutes`` is bookkeeping for
# recomputing targets, stored but not reported in events and frames.
SLA_COLUMNS = {
    "first_response_due_at": "first_response_due_at",
    "resolution_due_at": "resolution_due_at",
    "solved_at": "solved_at",
    "paused_at": "sla_paused_at",
    "paused_minutes": "sla_paused_minutes",
}
UNREPORTED = frozenset({"paused_minutes"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, as history and events record it.

    ``key`` is a principal key (``agent:agt_…``, later ``token:…``) or ``rule:NAME``;
    None is kefu itself. Only an agent's public comment counts as the first response.
    """

    key: str | None
    name: str | None = None
    is_agent: bool = False


SYSTEM = Actor(None, "kefu")


def rule_actor(rule: str) -> Actor:
    return Actor(f"rule:{rule}", rule)


# Called inside the transaction that stores a comment (kefu.email mails public ones to
# the ticket's requester): whatever it writes commits or rolls back with the comment.
CommentHook = Callable[[StoreUnitOfWork, Ticket, TicketComment, Actor], Awaitable[None]]


class TicketService:
    def __init__(
        self,
        repos: Repositories,
        units: Units,
        clock: Clock,
        settings: TicketSettings,
        *,
        audience: Audience | None = None,
        hub: LiveHub | None = None,
        on_comment: CommentHook | None = None,
        site_locales: Mapping[str, str] | None = None,
    ) -> None:
        """``site_locales``: each site's ``locale``, for the words kefu adds to tickets."""
        self._repos = repos
        self._site_locales = dict(site_locales or {})
        self._on_comment = on_comment
        # The live feed to agent consoles; None (tests, tools) pushes nothing.
        self.live = TicketFeed(hub, self.sla_status) if hub is not None else None
        # Which ticket.* types anyone consumes (kefu.events.outbox.audience); by default
        # all are emitted.
        self._audience = audience
        self._tickets = repos.tickets
        self._units = units
        self._clock = clock
        self.rules: SlaRules = sla_rules(settings)

    def _locale_of(self, visitor: Visitor | None) -> str:
        return self._site_locales.get(visitor.site_id or "" if visitor else "", "en")

    def _emits(self, event_type: str) -> bool:
        return self._audience is None or self._audience(event_type)

    def _push(self, uow: StoreUnitOfWork, send: Callable[[TicketFeed], None]) -> None:
        """Push a live frame once the change committed (nothing without a hub)."""
        live = self.live
        if live is not None:
            uow.after_commit(lambda: send(live))

    # -- reads ----------------------------------------------------------------------------
    def sla_status(self, ticket: Ticket) -> SlaStatus:
        """The ticket's SLA verdict now, as the rules judge it (what a console shows)."""
        return sla_status(ticket.status, ticket.sla, self.rules, self._clock.now())

    async def get(self, ticket_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise _not_found(ticket_id)
        return ticket

    async def search(
        self, where: TicketFilter, *, before: int | None = None, limit: int = 50
    ) -> list[Ticket]:
        return await self._tickets.search(where, before=before, limit=limit)

    async def comments(
        self, ticket_id: int, *, after: int = 0, limit: int = 100
    ) -> list[TicketComment]:
        await self.get(ticket_id)
        return await self._tickets.comments(ticket_id, after=after, limit=limit)

    async def history(
        self, ticket_id: int, *, after: int = 0, limit: int = 100
    ) -> list[HistoryEntry]:
        await self.get(ticket_id)
        return await self._tickets.history(ticket_id, after=after, limit=limit)

    # -- creation -------------------------------------------------------------------------
    async def create(
        self, draft: TicketDraft, actor: Actor, uow: StoreUnitOfWork | None = None
    ) -> Ticket:
        return (await self.create_many([draft], actor, uow))[0]

    async def create_many(
        self, drafts: Sequence[TicketDraft], actor: Actor, uow: StoreUnitOfWork | None = None
    ) -> list[Ticket]:
        """Create tickets (bulk inserts), their history rows and ``ticket.created`` events."""
        for draft in drafts:
            _check_draft(draft)
        await self._require_agents({d.assignee_id for d in drafts if d.assignee_id is not None})
        async with self._unit(uow) as tx:
            return await self._insert(tx, drafts, actor, self._clock.now())

    async def _insert(
        self, uow: StoreUnitOfWork, drafts: Sequence[TicketDraft], actor: Actor, now: datetime
    ) -> list[Ticket]:
        # Due dates depend on (policy, priority) only, at one ``now``: worked out once each
        # (and the frozen SlaState shared by the batch's tickets with the same pair).
        targets: dict[tuple[str | None, Priority], SlaState] = {}
        news = [self._new_ticket(draft, actor, now, targets) for draft in drafts]
        created = await uow.tickets.create_many(news)
        if self._emits(events.CREATED):
            await uow.emit([events.created(ticket, actor.key, now) for ticket in created], now)
        self._push(uow, lambda live: live.created(created, actor.key))
        return created

    def _new_ticket(
        self,
        draft: TicketDraft,
        actor: Actor,
        now: datetime,
        memo: dict[tuple[str | None, Priority], SlaState],
    ) -> NewTicket:
        policy = self.rules.choose(draft.sla_policy)
        key = (policy, draft.priority)
        sla = memo.get(key)
        if sla is None:
            targets = self.rules.targets(policy, draft.priority, now)
            sla = memo[key] = SlaState(
                policy=policy,
                first_response_due_at=targets.first_response_due_at,
                resolution_due_at=targets.resolution_due_at,
            )
        return NewTicket(
            subject=draft.subject.strip(),
            body=draft.body,
            status=TicketStatus.NEW,
            priority=draft.priority,
            customer_key=draft.customer_key,
            assignee_id=draft.assignee_id,
            queue=draft.queue,
            conversation_id=draft.conversation_id,
            channel=draft.channel,
            created_by=actor.key,
            created_at=now,
            sla=sla,
        )

    async def from_conversation(
        self,
        conversation_id: str,
        actor: Actor,
        *,
        priority: Priority = Priority.NORMAL,
        subject: str | None = None,
        assignee_id: str | None = None,
    ) -> tuple[Ticket, bool]:
        """The conversation's ticket, made now (True) or found from before (False).

        One ticket per chat: a second click, from another agent or another node, gets
        the same one. The subject is ``subject`` or the visitor's first words, the body a
        transcript without the bot's lines, the customer the one the conversation is
        linked to, the assignee ``assignee_id`` (an active agent) or its agent.
        """
        if assignee_id is not None:
            await self._require_agents({assignee_id})
        summary = await self._repos.summaries.get(conversation_id)
        if summary is None:
            raise NotFound("no such conversation", code="conversation_not_found")
        messages = await self._repos.messages.after(conversation_id, 0, TRANSCRIPT_MESSAGES + 1)
        visitor = await self._repos.visitors.get(summary.record.visitor_id)
        draft = conversation_draft(
            summary,
            messages,
            priority=priority,
            subject=subject,
            assignee_id=assignee_id,
            locale=self._locale_of(visitor),
        )
        _check_draft(draft)
        async with self._unit(None) as uow:
            if not await uow.tickets.lock_conversation(conversation_id):
                raise NotFound("no such conversation", code="conversation_not_found")
            existing = await uow.tickets.for_conversation(conversation_id)
            if existing is not None:
                return existing, False
            [ticket] = await self._insert(uow, [draft], actor, self._clock.now())
        return ticket, True

    async def from_offline_message(
        self,
        offline_id: str,
        actor: Actor,
        *,
        priority: Priority = Priority.NORMAL,
        uow: StoreUnitOfWork | None = None,
    ) -> tuple[Ticket, bool]:
        """The offline message's ticket, made now (True) or found from before (False);
        the message records the ticket's id, so the console shows it handled. With
        ``uow`` (a rule's effect) it joins the caller's unit of work."""
        async with self._unit(uow) as tx:
            message = await tx.tickets.lock_offline(offline_id)
            if message is None:
                raise NotFound("no such offline message", code="offline_message_not_found")
            if message.ticket_id is not None:
                existing = await tx.tickets.get(int(message.ticket_id))
                if existing is None:  # the row names a ticket that is gone: a bug, loudly
                    raise Conflict("the linked ticket is missing", code="ticket_missing")
                return existing, False
            visitor = await self._repos.visitors.get(message.visitor_id)
            draft = offline_draft(message, visitor, priority, self._locale_of(visitor))
            _check_draft(draft)
            [ticket] = await self._insert(tx, [draft], actor, self._clock.now())
            if not await tx.tickets.link_offline(offline_id, ticket.id):
                raise Conflict("the offline message changed meanwhile", code="conflict")
        return ticket, True

    # -- changes --------------------------------------------------------------------------
    async def update(
        self,
        ticket_id: int,
        patch: TicketPatch,
        actor: Actor,
        uow: StoreUnitOfWork | None = None,
    ) -> Ticket:
        """Apply a PATCH: the status machine decides (``Conflict illegal_transition``),
        solving stamps ``solved_at`` (reopening clears it), a new priority recomputes the
        due dates from creation. Unchanged values are no change: no row, no event."""
        if not patch.fields:
            raise BadInput("nothing to change: give at least one field", code="empty_patch")
        if patch.queue is not None:
            _check_queue(patch.queue)
        if patch.assignee_id is not None:
            await self._require_agents({patch.assignee_id})
        async with self._unit(uow) as unit:
            tx = unit.tickets
            ticket = await tx.lock(ticket_id)
            if ticket is None:
                raise _not_found(ticket_id)
            try:
                changes = plan_update(ticket, patch)
            except IllegalTransition as exc:
                raise Conflict(str(exc), code="illegal_transition") from None
            if not changes:
                return ticket
            now = self._clock.now()
            derived, sla_columns = self._consequences(ticket, changes, now)
            columns: dict[str, Any] = {name: _column(after) for name, (_, after) in changes.items()}
            columns.update(sla_columns)
            await tx.update(ticket_id, columns, now)
            await tx.add_history(
                [
                    HistoryRow(
                        ticket_id,
                        HISTORY_ACTION[name],
                        actor.key,
                        now,
                        _history_detail(name, before, after, derived),
                    )
                    for name, (before, after) in changes.items()
                ],
            )
            changed = await tx.get(ticket_id)
            if changed is None:  # cannot happen: the row is locked by this transaction
                raise _not_found(ticket_id)
            if self._emits(events.UPDATED):
                await unit.emit([events.updated(changed, changes | derived, actor.key, now)], now)
            self._push(unit, lambda live: live.updated(changed, changes | derived, actor.key))
            return changed

    def _consequences(
        self, ticket: Ticket, changes: dict[str, Change], now: datetime
    ) -> tuple[dict[str, Change], dict[str, Any]]:
        """The SLA fields a change moves along with it (``SlaRules.after_change``): as
        ``{field: (before, after)}`` for history and events, and as columns to store."""
        priority = changes.get("priority")
        after = self.rules.after_change(
            ticket.sla,
            ticket.created_at,
            now,
            status=changes.get("status"),
            priority=priority[1] if priority is not None else None,
        )
        derived: dict[str, Change] = {}
        columns: dict[str, Any] = {}
        for name, column in SLA_COLUMNS.items():
            before_value, after_value = getattr(ticket.sla, name), getattr(after, name)
            if before_value != after_value:
                columns[column] = after_value
                if name not in UNREPORTED:
                    derived[name] = (before_value, after_value)
        return derived, columns

    async def comment(
        self,
        ticket_id: int,
        body: str,
        actor: Actor,
        *,
        internal: bool = False,
        uow: StoreUnitOfWork | None = None,
    ) -> TicketComment:
        """Add a comment or (``internal``) an agents-only note. The first public comment
        by an agent is the first response the SLA measures."""
        _check_text("body", body, MAX_BODY_CHARS)
        async with self._unit(uow) as unit:
            tx = unit.tickets
            ticket = await tx.lock(ticket_id)
            if ticket is None:
                raise _not_found(ticket_id)
            if ticket.status is TicketStatus.CLOSED:
                raise Conflict("a closed ticket takes no comments", code="ticket_closed")
            now = self._clock.now()
            comment = await tx.add_comment(
                ticket_id,
                author=actor.key,
                author_name=actor.name,
                body=body,
                internal=internal,
                now=now,
            )
            first_response = (
                not internal and actor.is_agent and ticket.sla.first_responded_at is None
            )
            detail: dict[str, Any] = {"comment_id": str(comment.id), "internal": internal}
            columns: dict[str, Any] = {}
            if first_response:
                columns["first_responded_at"] = now
                detail["first_response"] = True
            await tx.update(ticket_id, columns, now)
            await tx.add_history([HistoryRow(ticket_id, "comment", actor.key, now, detail)])
            sla = replace(ticket.sla, first_responded_at=now) if first_response else ticket.sla
            after = replace(ticket, sla=sla, updated_at=now)
            if self._on_comment is not None:
                await self._on_comment(unit, after, comment, actor)
            if self._emits(events.COMMENTED):
                await unit.emit([events.commented(after, comment, now)], now)
            moved: dict[str, Change] = {"first_responded_at": (None, now)} if first_response else {}
            self._push(unit, lambda live: live.updated(after, moved, actor.key, comment))
        return comment

    # -- helpers --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _unit(self, uow: StoreUnitOfWork | None) -> AsyncIterator[StoreUnitOfWork]:
        """The caller's unit of work when given, else a new one committed on success
        (its live frames go out after that commit)."""
        if uow is not None:
            yield uow
            return
        async with self._units() as own:
            yield own

    async def _require_agents(self, agent_ids: set[str]) -> None:
        for agent_id in sorted(agent_ids):
            agent = await self._repos.agents.get(agent_id)
            if agent is None or agent.disabled:
                raise BadInput(f"no active agent {agent_id!r}", code="unknown_agent")


def _not_found(ticket_id: int) -> NotFound:
    return NotFound(f"no ticket {ticket_id}", code="ticket_not_found")


def _column(value: Any) -> Any:
    """Enums are stored as their values."""
    return value.value if isinstance(value, TicketStatus | Priority) else value


def _history_detail(
    name: str, before: Any, after: Any, derived: dict[str, Change]
) -> dict[str, Any]:
    detail = events.plain_changes({name: (before, after)})[name]
    if name == "priority":
        moved = {k: v for k, v in derived.items() if k.endswith("_due_at")}
        detail.update(events.plain_changes(moved))
    elif name == "status" and "paused_at" in derived:
        # The resolution clock paused, or resumed with its target moved out.
        moved = {k: v for k, v in derived.items() if k in ("paused_at", "resolution_due_at")}
        detail.update(events.plain_changes(moved))
    return detail


def _check_text(name: str, value: str, limit: int) -> None:
    if not value.strip():
        raise BadInput(f"{name} must not be empty", code="invalid_ticket")
    if len(value) > limit:
        raise BadInput(f"{name} exceeds {limit} characters", code="invalid_ticket")
    if "\x00" in value:  # PostgreSQL text cannot hold it
        raise BadInput(f"{name} must not contain NUL", code="invalid_ticket")


def _check_queue(queue: str) -> None:
    if not QUEUE.match(queue):
        raise BadInput(
            "queue is lowercase letters, digits, _ and -, a letter first, at most 40",
            code="invalid_ticket",
        )


def _check_draft(draft: TicketDraft) -> None:
    """The service's own input contract: the API checks the same, other callers (rules,
    a future gRPC surface) get the same answers."""
    _check_text("subject", draft.subject, MAX_SUBJECT_CHARS)
    _check_text("body", draft.body, MAX_BODY_CHARS)
    if draft.customer_key is not None:
        _check_text("customer_key", draft.customer_key, MAX_CUSTOMER_KEY_CHARS)
    if draft.queue is not None:
        _check_queue(draft.queue)
