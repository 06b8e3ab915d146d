"""Visitor details for the console's side panel: where they are, what they run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kefu.api.deps import AgentDep, NodeDep
from kefu.api.routes.conversations import conversation_page
from kefu.api.schemas import ConversationPage, VisitorOut
from kefu.domain.roles import Role
from kefu.errors import NotFound

router = APIRouter(prefix="/api/v1/visitors", tags=["visitors"])


@router.get("/{visitor_id}", response_model=VisitorOut)
async def get_visitor(visitor_id: str, caller: AgentDep, kefu: NodeDep) -> VisitorOut:
    """Supervisors see any visitor; an agent only one of whose conversations it holds."""
    visitor = await kefu.repos.visitors.get(visitor_id)
    if visitor is not None and not caller.has_role(Role.SUPERVISOR):
        mine = await kefu.repos.conversations.search(
            status=None, assignee_id=caller.id, visitor_id=visitor_id, limit=1
        )
        if not mine:
            visitor = None
    if visitor is None:
        # Same answer either way: an agent learns nothing about others' visitors.
        raise NotFound("no such visitor", code="visitor_not_found")
    return VisitorOut.of(visitor)


@router.get("/{visitor_id}/conversations", response_model=ConversationPage)
async def visitor_conversations(
    visitor_id: str,
    caller: AgentDep,
    kefu: NodeDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    """The visitor's conversations, newest first (a chat's "previous conversations"):
    supervisors any visitor's; an agent those of a visitor one of whose conversations it
    holds (read-only: their messages, not their controls)."""
    await get_visitor(visitor_id, caller, kefu)  # the same 404 for what an agent may not see
    return await conversation_page(kefu, cursor=cursor, limit=limit, visitor_id=visitor_id)
