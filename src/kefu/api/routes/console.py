"""What the agent console needs beyond the core chat routes: taking a waiting
conversation, and the chat texts (welcome, offline) admins edit from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, StringConstraints

from kefu.api.deps import AdminDep, AgentDep, NodeDep
from kefu.api.schemas import ConversationSummaryOut, Strict
from kefu.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["console"])

# Same bound as an auto-reply: a bot message, not an essay. Empty turns the message off.
ChatText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


class TeamMember(BaseModel):
    id: str
    name: str
    role: str
    online: bool
    away: bool = False  # online but taking no new conversations


class LabelUse(BaseModel):
    label: str
    conversations: int


class LabelList(BaseModel):
    items: list[LabelUse]


class ChatTexts(BaseModel):
    welcome_message: str
    offline_message: str


class ChatTextsPatch(Strict):
    welcome_message: ChatText | None = None
    offline_message: ChatText | None = None


@router.post("/conversations/{conversation_id}/claim", response_model=ConversationSummaryOut)
async def claim(conversation_id: str, caller: AgentDep, kefu: NodeDep) -> ConversationSummaryOut:
    """Any agent may take a waiting conversation, whatever its free capacity: an agent
    picking from the queue has decided it has room."""
    await kefu.chat.claim(caller, conversation_id)
    summary = await kefu.repos.summaries.get(conversation_id)
    if summary is None:
        raise NotFound("no such conversation", code="conversation_not_found")
    return ConversationSummaryOut.of_summary(summary)


@router.get("/labels", response_model=LabelList)
async def labels(caller: AgentDep, kefu: NodeDep) -> LabelList:
    """The labels in use, most used first: what the console suggests while typing one."""
    used = await kefu.repos.labels.in_use()
    return LabelList(items=[LabelUse(label=label, conversations=n) for label, n in used])


@router.get("/team", response_model=list[TeamMember])
async def team(caller: AgentDep, kefu: NodeDep) -> list[TeamMember]:
    """Who a conversation can be transferred to: every active agent, for every agent (the
    full agent list, with emails and capacities, stays with supervisors)."""
    await kefu.chat.refresh_presence()
    return [
        TeamMember(
            id=a.id, name=a.name, role=a.role.value, online=kefu.chat.is_online(a.id), away=a.away
        )
        for a in await kefu.repos.agents.list()
        if not a.disabled
    ]


@router.get("/settings/chat", response_model=ChatTexts)
async def get_chat_texts(caller: AgentDep, kefu: NodeDep) -> ChatTexts:
    return ChatTexts(
        welcome_message=kefu.chat.welcome_message, offline_message=kefu.chat.offline_message
    )


@router.put("/settings/chat", response_model=ChatTexts)
async def put_chat_texts(body: ChatTextsPatch, caller: AdminDep, kefu: NodeDep) -> ChatTexts:
    """Stored in the database, so the text survives restarts and every node uses it: each
    reads it again whenever a conversation opens."""
    changes = body.model_dump(exclude_none=True)
    await kefu.repos.settings.put_many(changes, kefu.clock.now())
    await kefu.chat.reload_texts()
    await kefu.repos.audit.record(
        "settings.chat", actor=caller.key, target="chat", now=kefu.clock.now(), detail=changes
    )
    return await get_chat_texts(caller, kefu)
