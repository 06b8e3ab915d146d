"""The visitor's satisfaction rating of a closed conversation (1 to 5, and a comment)."""

from __future__ import annotations

from fastapi import APIRouter

from kefu.api.deps import NodeDep, PrincipalDep
from kefu.api.schemas import ConversationOut, RatingRequest
from kefu.domain.conversation import ConversationStatus
from kefu.errors import Conflict, Forbidden, NotFound

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.post("/{conversation_id}/rating", status_code=201, response_model=ConversationOut)
async def rate(
    conversation_id: str, body: RatingRequest, caller: PrincipalDep, kefu: NodeDep
) -> ConversationOut:
    """Once per conversation, by its visitor, after it was closed."""
    if caller.is_agent:
        raise Forbidden("only the conversation's visitor rates it", code="visitors_only")
    await kefu.chat.accessible(caller, conversation_id)
    record = await kefu.repos.conversations.get(conversation_id)
    if record is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    if record.status is not ConversationStatus.CLOSED:
        raise Conflict("rate the conversation once it is closed", code="conversation_open")
    stored = await kefu.repos.conversations.rate(
        conversation_id, body.score, body.comment or None, kefu.clock.now()
    )
    if not stored:
        raise Conflict("this conversation was already rated", code="already_rated")
    await kefu.repos.audit.record(
        "conversation.rated",
        actor=caller.key,
        target=conversation_id,
        now=kefu.clock.now(),
        detail={"score": body.score},
    )
    rated = await kefu.repos.conversations.get(conversation_id)
    if rated is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return ConversationOut.of(rated)
