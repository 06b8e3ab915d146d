"""Tickets over REST: create, read, list, change, comment, history; and tickets made from
a conversation or an offline message.

Who may call is decided in one place, ``ticket_caller``: agents of any role today. When
machine clients (API tokens with ``tickets:read`` / ``tickets:write``) are admitted, it is
a change to that function alone; the routes already speak in ``Actor`` terms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, StringConstraints, field_validator

from kefu.api.customer_keys import CustomerKey
from kefu.api.deps import NodeDep, PrincipalDep, bearer
from kefu.api.schemas import Strict
from kefu.api.twins import pydantic_twin
from kefu.auth.api_tokens import is_api_token
from kefu.auth.principal import Principal
from kefu.domain.ticket_json import format_ticket_id
from kefu.domain.tickets import (
    PATCHABLE,
    Channel,
    HistoryEntry,
    Priority,
    Ticket,
    TicketComment,
    TicketDraft,
    TicketPatch,
    TicketStatus,
)
from kefu.errors import BadInput, Forbidden, NotFound
from kefu.node import Node
from kefu.store.tickets import TicketFilter
from kefu.tickets.events import comment_payload, ticket_payload
from kefu.tickets.service import MAX_BODY_CHARS, MAX_SUBJECT_CHARS, Actor
from kefu.tickets.sla_json import SlaStatusJson, sla_status_payload

router = APIRouter(tags=["tickets"])

# Ids are a BIGINT sequence: more than 19 digits is no ticket of ours (and would overflow
# the column type in a query).
MAX_ID_DIGITS = 18

Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SUBJECT_CHARS)
]
Body = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_CHARS)]
AgentId = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Queue = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]


# ---- who ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketCaller:
    actor: Actor
    agent_id: str | None  # for ``assignee=me``
    channel: Channel  # what a ticket this caller creates records as its origin


def ticket_caller(scope: str) -> Callable[[Request, Node], Awaitable[TicketCaller]]:
    """Dependency: who may read (``tickets:read``) or change (``tickets:write``) tickets.

    Agents of any role may do both; visitors neither. This is the one place to admit
    machine clients: an API token holding ``scope`` becomes a ``TicketCaller`` with a
    ``machine:…`` actor, no agent id and the ``api`` channel.
    """

    async def check(request: Request, kefu: NodeDep) -> TicketCaller:
        token = bearer(request)
        if is_api_token(token):
            machine = await kefu.api_tokens.authenticate(token)
            machine.require(scope)
            return TicketCaller(Actor(machine.key, machine.name), None, Channel.API)
        caller = await kefu.auth.principal(token)
        if not caller.is_agent:
            raise Forbidden("agents only", code="agents_only")
        return TicketCaller(_actor(caller), caller.id, Channel.CONSOLE)

    check.__name__ = f"ticket_caller_{scope.replace(':', '_')}"
    return check


def _actor(principal: Principal) -> Actor:
    return Actor(principal.key, principal.name, is_agent=principal.is_agent)


ReaderDep = Annotated[TicketCaller, Depends(ticket_caller("tickets:read"))]
WriterDep = Annotated[TicketCaller, Depends(ticket_caller("tickets:write"))]


# ---- bodies ------------------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class TicketCreate(Strict):
    NUL_CHECKED_BY_FIELD = frozenset({"customer_key"})
    customer_key: CustomerKey
    subject: Subject
    body: Body
    priority: Priority = Priority.NORMAL
    # Beyond the contract, optional: route or assign at creation.
    queue: Queue | None = None
    assignee_id: AgentId | None = None

    check_body = field_validator("body")(_not_blank)


class TicketPatchIn(Strict):
    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_id: AgentId | None = None  # null unassigns
    queue: Queue | None = None  # null leaves the queue

    @field_validator("status", "priority", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class FromSourceIn(Strict):
    priority: Priority = Priority.NORMAL


class FromConversationIn(FromSourceIn):
    """What the console's side form may change from the drafted ticket."""

    subject: Subject | None = None  # else the visitor's first words
    assignee_id: AgentId | None = None  # else the conversation's agent


class CommentIn(Strict):
    body: Body
    internal: bool = False

    check_body = field_validator("body")(_not_blank)


# ---- answers -----------------------------------------------------------------------------


class SlaOut(BaseModel):
    policy: str | None
    first_response_due_at: str | None
    resolution_due_at: str | None
    first_responded_at: str | None
    solved_at: str | None
    warned_at: str | None
    breached_at: str | None
    paused_at: str | None = None  # the resolution clock's pause while pending


# The verdict's one schema is the Struct the live frames encode (SlaStatusJson); REST
# documents and validates a pydantic twin made from it.
if TYPE_CHECKING:
    SlaStatusOut = BaseModel
else:
    SlaStatusOut = pydantic_twin(SlaStatusJson, "SlaStatusOut")


class TicketOut(BaseModel):
    id: str
    subject: str
    body: str
    status: TicketStatus
    priority: Priority
    customer_key: str | None
    assignee_id: str | None
    queue: str | None
    conversation_id: str | None
    channel: Channel
    created_at: str
    updated_at: str
    sla: SlaOut
    sla_status: SlaStatusOut

    @classmethod
    def of(cls, ticket: Ticket, kefu: Node) -> TicketOut:
        """The ticket JSON with its SLA verdict judged now."""
        verdict = sla_status_payload(kefu.tickets.sla_status(ticket))
        return cls.model_validate(ticket_payload(ticket) | {"sla_status": verdict})


class TicketPage(BaseModel):
    items: list[TicketOut]
    next: str | None


class CommentOut(BaseModel):
    id: str
    ticket_id: str
    author: str | None
    author_name: str | None
    body: str
    internal: bool
    created_at: str

    @classmethod
    def of(cls, comment: TicketComment) -> CommentOut:
        return cls.model_validate(comment_payload(comment))


class CommentPage(BaseModel):
    items: list[CommentOut]
    next: str | None


class HistoryOut(BaseModel):
    id: str
    ticket_id: str
    at: str
    actor: str | None
    action: str
    detail: dict[str, Any] | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        return cls(
            id=str(entry.id),
            ticket_id=format_ticket_id(entry.ticket_id),
            at=entry.at.isoformat().replace("+00:00", "Z"),
            actor=entry.actor,
            action=entry.action,
            detail=entry.detail,
        )


class HistoryPage(BaseModel):
    items: list[HistoryOut]
    next: str | None


# ---- routes ------------------------------------------------------------------------------


@router.post("/api/v1/tickets", status_code=201, response_model=TicketOut)
async def create_ticket(body: TicketCreate, caller: WriterDep, kefu: NodeDep) -> TicketOut:
    draft = TicketDraft(
        subject=body.subject,
        body=body.body,
        customer_key=body.customer_key,
        channel=caller.channel,
        priority=body.priority,
        queue=body.queue,
        assignee_id=body.assignee_id,
    )
    return TicketOut.of(await kefu.tickets.create(draft, caller.actor), kefu)


@router.get("/api/v1/tickets", response_model=TicketPage)
async def list_tickets(
    caller: ReaderDep,
    kefu: NodeDep,
    customer_key: Annotated[CustomerKey | None, Query()] = None,
    status: TicketStatus | None = None,
    assignee: Annotated[str | None, Query(max_length=40)] = None,
    queue: Annotated[str | None, Query(max_length=40)] = None,
    priority: Priority | None = None,
    cursor: Annotated[str | None, Query(max_length=MAX_ID_DIGITS + 2)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    """Newest first. ``assignee=me`` is the caller; ``next`` goes back as ``cursor``."""
    assignee_id = caller.agent_id if assignee == "me" else assignee
    where = TicketFilter(customer_key, status, assignee_id, queue, priority)
    before = _parse_id(cursor, BadInput("cursor is not one we issued", code="invalid_cursor"))
    items = await kefu.tickets.search(where, before=before, limit=limit)
    next_cursor = format_ticket_id(items[-1].id) if len(items) == limit else None
    return TicketPage(items=[TicketOut.of(t, kefu) for t in items], next=next_cursor)


@router.get("/api/v1/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: str, caller: ReaderDep, kefu: NodeDep) -> TicketOut:
    return TicketOut.of(await kefu.tickets.get(_ticket_id(ticket_id)), kefu)


@router.patch("/api/v1/tickets/{ticket_id}", response_model=TicketOut)
async def update_ticket(
    ticket_id: str, body: TicketPatchIn, caller: WriterDep, kefu: NodeDep
) -> TicketOut:
    """Only the fields given change; ``{}`` is ``400 empty_patch``; a status move the
    machine forbids is ``409 illegal_transition`` and changes nothing."""
    given = frozenset(body.model_fields_set) & set(PATCHABLE)
    patch = TicketPatch(
        given,
        status=body.status,
        priority=body.priority,
        assignee_id=body.assignee_id,
        queue=body.queue,
    )
    return TicketOut.of(await kefu.tickets.update(_ticket_id(ticket_id), patch, caller.actor), kefu)


@router.get("/api/v1/tickets/{ticket_id}/comments", response_model=CommentPage)
async def list_comments(
    ticket_id: str,
    caller: ReaderDep,
    kefu: NodeDep,
    after: Annotated[str | None, Query(max_length=MAX_ID_DIGITS + 2)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CommentPage:
    """Oldest first, internal notes included (every caller here is an agent)."""
    start = _parse_id(after, BadInput("`after` is not a comment id", code="invalid_cursor"))
    items = await kefu.tickets.comments(_ticket_id(ticket_id), after=start or 0, limit=limit)
    next_id = str(items[-1].id) if len(items) == limit else None
    return CommentPage(items=[CommentOut.of(c) for c in items], next=next_id)


@router.post("/api/v1/tickets/{ticket_id}/comments", status_code=201, response_model=CommentOut)
async def add_comment(
    ticket_id: str, body: CommentIn, caller: WriterDep, kefu: NodeDep
) -> CommentOut:
    comment = await kefu.tickets.comment(
        _ticket_id(ticket_id), body.body, caller.actor, internal=body.internal
    )
    return CommentOut.of(comment)


@router.get("/api/v1/tickets/{ticket_id}/history", response_model=HistoryPage)
async def list_history(
    ticket_id: str,
    caller: ReaderDep,
    kefu: NodeDep,
    after: Annotated[str | None, Query(max_length=MAX_ID_DIGITS + 2)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HistoryPage:
    start = _parse_id(after, BadInput("`after` is not a history id", code="invalid_cursor"))
    items = await kefu.tickets.history(_ticket_id(ticket_id), after=start or 0, limit=limit)
    next_id = str(items[-1].id) if len(items) == limit else None
    return HistoryPage(items=[HistoryOut.of(e) for e in items], next=next_id)


@router.post("/api/v1/conversations/{conversation_id}/ticket", response_model=TicketOut)
async def ticket_from_conversation(
    conversation_id: str,
    caller: WriterDep,
    principal: PrincipalDep,
    kefu: NodeDep,
    response: Response,
    body: FromConversationIn | None = None,
) -> TicketOut:
    """201 with a new ticket, or 200 with the one this conversation already has (as it
    is: the body's fields shape a new ticket only). The caller must be allowed to read the
    conversation: the ticket carries its transcript."""
    await kefu.chat.accessible(principal, conversation_id)
    body = body or FromConversationIn()
    ticket, created = await kefu.tickets.from_conversation(
        conversation_id,
        caller.actor,
        priority=body.priority,
        subject=body.subject,
        assignee_id=body.assignee_id,
    )
    response.status_code = 201 if created else 200
    return TicketOut.of(ticket, kefu)


@router.post("/api/v1/offline-messages/{offline_id}/ticket", response_model=TicketOut)
async def ticket_from_offline_message(
    offline_id: str,
    caller: WriterDep,
    kefu: NodeDep,
    response: Response,
    body: FromSourceIn | None = None,
) -> TicketOut:
    """201 with a new ticket, or 200 with the one this message already became."""
    priority = body.priority if body is not None else Priority.NORMAL
    ticket, created = await kefu.tickets.from_offline_message(
        offline_id, caller.actor, priority=priority
    )
    response.status_code = 201 if created else 200
    return TicketOut.of(ticket, kefu)


def _parse_id(raw: str | None, error: BadInput) -> int | None:
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_ID_DIGITS:
        raise error
    return int(raw)


def _ticket_id(raw: str) -> int:
    """A ticket id from the path: anything that cannot be one of ours is simply unknown."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_ID_DIGITS:
        raise NotFound(f"no ticket {raw[:40]!r}", code="ticket_not_found")
    return int(raw)
