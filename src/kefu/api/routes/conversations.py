"""Conversations and their messages, transfer and close."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from kefu.api.deps import AgentDep, NodeDep, PrincipalDep
from kefu.api.schemas import (
    ConversationOut,
    ConversationPage,
    ConversationSummaryOut,
    MessageOut,
    MessagePage,
    Strict,
    TransferRequest,
    VisitorConversationOut,
)
from kefu.domain.ids import format_message_id
from kefu.domain.labels import clean
from kefu.domain.roles import Role
from kefu.domain.search_text import MAX_QUERY_CHARS, QueryError, parse_query
from kefu.errors import BadInput, Forbidden, NotFound
from kefu.store.conversation_search import NO_FILTERS, Filters

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("", response_model=ConversationPage)
async def list_conversations(
    caller: AgentDep,
    kefu: NodeDep,
    status: Literal["open", "closed", "waiting", "assigned"] | None = None,
    assignee: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    label: Annotated[str | None, Query(max_length=50)] = None,
    customer_key: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS)] = None,
) -> ConversationPage:
    """Agents see their own and the waiting queue; supervisors and admins may list anyone's
    or all. Each item carries the visitor's name, the unread count and the last message.
    ``q`` searches message text (notes included), the visitor's name and email, and
    lists the matches newest match first; a page of a search may hold fewer than
    ``limit`` items while ``next`` is set."""
    assignee_id = caller.id if assignee == "me" else assignee
    if not caller.has_role(Role.SUPERVISOR):
        if assignee_id not in (None, caller.id):
            raise Forbidden(
                "agents may list only their own conversations", code="insufficient_role"
            )
        if not (status == "waiting" and assignee_id is None):
            assignee_id = caller.id
    try:
        phrases = parse_query(q) if q is not None and q.strip() else []
    except QueryError as error:
        raise BadInput(str(error), code="invalid_query") from None
    if customer_key is not None:
        kefu.customers.check_key(customer_key)
    filters = Filters(
        label=clean(label) if label else None,
        customer_key=customer_key,
        phrases=phrases,
    )
    return await conversation_page(
        kefu, status=status, assignee_id=assignee_id, cursor=cursor, limit=limit, filters=filters
    )


async def conversation_page(
    kefu: NodeDep,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    assignee_id: str | None = None,
    filters: Filters = NO_FILTERS,
    visitor_id: str | None = None,
) -> ConversationPage:
    """A page of the list, newest activity first (a search: newest match first), and the
    cursor of the next one."""
    before = _decode_cursor(cursor)
    if isinstance(before, int) != bool(filters.phrases) and before is not None:
        raise BadInput("cursor belongs to another list or search", code="invalid_cursor")
    items, after = await kefu.repos.summaries.search(
        status=status,
        assignee_id=assignee_id,
        before=before,
        limit=limit,
        filters=filters,
        visitor_id=visitor_id,
    )
    return ConversationPage(
        items=[ConversationSummaryOut.of_summary(s) for s in items],
        next=_encode_cursor(after) if after is not None else None,
    )


@router.get("/{conversation_id}", response_model=ConversationSummaryOut | VisitorConversationOut)
async def get_conversation(
    conversation_id: str, caller: PrincipalDep, kefu: NodeDep
) -> ConversationSummaryOut | VisitorConversationOut:
    """Agents get the console's view; the conversation's visitor only visitor-facing
    fields (no labels, linked customer key or unread count)."""
    await kefu.chat.accessible(caller, conversation_id)
    summary = await kefu.repos.summaries.get(conversation_id)
    if summary is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    if not caller.is_agent:
        return VisitorConversationOut.of_summary(summary)
    return ConversationSummaryOut.of_summary(summary)


@router.get("/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: str,
    caller: PrincipalDep,
    kefu: NodeDep,
    after: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[str | None, Query(max_length=20)] = None,
) -> MessagePage:
    """``before`` pages backwards (the console opens on the latest messages); ``next``
    then stays the id of the last item, for symmetry, and is only set on a full page."""
    items = await kefu.chat.history(caller, conversation_id, after, limit, before=before)
    next_id = format_message_id(items[-1].id) if len(items) == limit else None
    links = kefu.attachments.download_url
    return MessagePage(items=[MessageOut.of(m, links) for m in items], next=next_id)


@router.post("/{conversation_id}/transfer", response_model=ConversationOut)
async def transfer(
    conversation_id: str, body: TransferRequest, caller: AgentDep, kefu: NodeDep
) -> ConversationOut:
    await kefu.chat.transfer(caller, conversation_id, body.agent_id)
    return await _out(kefu, conversation_id)


class LabelsIn(Strict):
    labels: Annotated[
        list[Annotated[str, StringConstraints(max_length=200)]], Field(max_length=100)
    ]


class LabelsOut(BaseModel):
    labels: list[str]


@router.put("/{conversation_id}/labels", response_model=LabelsOut)
async def set_labels(
    conversation_id: str, body: LabelsIn, caller: AgentDep, kefu: NodeDep
) -> LabelsOut:
    """The conversation's labels become exactly these (trimmed, lower-cased, sorted)."""
    return LabelsOut(labels=await kefu.chat.label(caller, conversation_id, body.labels))


@router.post("/{conversation_id}/reopen", response_model=ConversationSummaryOut)
async def reopen(conversation_id: str, caller: AgentDep, kefu: NodeDep) -> ConversationSummaryOut:
    """A closed conversation is open again with its history and assigned like a new one;
    409 ``not_closed`` otherwise (or ``visitor_has_open_conversation``)."""
    await kefu.chat.reopen(caller, conversation_id)
    summary = await kefu.repos.summaries.get(conversation_id)
    if summary is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return ConversationSummaryOut.of_summary(summary)


@router.post("/{conversation_id}/close", response_model=ConversationOut)
async def close(conversation_id: str, caller: AgentDep, kefu: NodeDep) -> ConversationOut:
    await kefu.chat.close(caller, conversation_id)
    return await _out(kefu, conversation_id)


async def _out(kefu: NodeDep, conversation_id: str) -> ConversationOut:
    record = await kefu.repos.conversations.get(conversation_id)
    if record is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return ConversationOut.of(record)


def _encode_cursor(after: tuple[datetime, str] | int) -> str:
    """Opaque to clients: the last item's (updated_at, id), or a search's match key."""
    raw = (
        f"m|{after}" if isinstance(after, int) else f"{after[0].isoformat()}|{after[1]}"
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, rest = raw.split("|", 1)
        if stamp == "m":
            key = int(rest)
            if not 0 < key < 2**62:
                raise ValueError("out of range")
            return key
        return datetime.fromisoformat(stamp), rest
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadInput("cursor is not one this server issued", code="invalid_cursor") from None
