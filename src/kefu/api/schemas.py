"""Request and response bodies of the REST API; limits here are the input contract."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from kefu.chat.frames import iso, message_payload, summary_payload
from kefu.domain.ids import format_message_id
from kefu.domain.models import Agent, ConversationRecord, ConversationSummary, Message
from kefu.domain.roles import Role

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, StringConstraints(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class AgentOut(BaseModel):
    id: str
    name: str
    email: str
    role: Role
    capacity: int | None = None
    disabled: bool = False

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            id=agent.id,
            name=agent.name,
            email=agent.email,
            role=agent.role,
            capacity=agent.capacity,
            disabled=agent.disabled,
        )


class LoginResponse(BaseModel):
    token: str
    agent: AgentOut


class VisitorRequest(Strict):
    name: ShortText | None = None
    email: EmailStr | None = None
    external_id: ShortText | None = None
    page_url: Url | None = None
    referrer: Url | None = None
    signature: Annotated[str, StringConstraints(max_length=128)] | None = None


class VisitorResponse(BaseModel):
    visitor_id: str
    token: str


class ConversationOut(BaseModel):
    id: str
    visitor_id: str
    status: Literal["waiting", "assigned", "closed"]
    assignee_id: str | None
    created_at: str
    updated_at: str
    closed_at: str | None
    last_message_id: str | None

    @classmethod
    def of(cls, record: ConversationRecord) -> ConversationOut:
        return cls(
            id=record.id,
            visitor_id=record.visitor_id,
            status=record.status.value,
            assignee_id=record.assignee_id,
            created_at=iso(record.created_at),
            updated_at=iso(record.updated_at),
            closed_at=iso(record.closed_at) if record.closed_at else None,
            last_message_id=(
                format_message_id(record.last_message_id) if record.last_message_id else None
            ),
        )


class VisitorSummaryOut(BaseModel):
    name: str | None
    email: str | None


class ConversationSummaryOut(ConversationOut):
    """A conversation as the console's list shows it (optional fields beyond the contract)."""

    visitor: VisitorSummaryOut
    unread: int
    last_message: MessageOut | None

    @classmethod
    def of_summary(cls, summary: ConversationSummary) -> ConversationSummaryOut:
        return cls.model_validate(summary_payload(summary))


class ConversationPage(BaseModel):
    items: list[ConversationSummaryOut]
    next: str | None


class SenderOut(BaseModel):
    kind: str
    id: str | None
    name: str | None


class MessageOut(BaseModel):
    id: str
    conversation_id: str
    sender: SenderOut
    body: str
    created_at: str

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls.model_validate(message_payload(message))


class MessagePage(BaseModel):
    items: list[MessageOut]
    next: str | None


class TransferRequest(Strict):
    agent_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]


class AgentCreate(Strict):
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)]
    name: ShortText
    role: Role = Role.AGENT
    capacity: Annotated[int, Field(ge=1, le=10_000)] | None = None


class AgentPatch(Strict):
    name: ShortText | None = None
    role: Role | None = None
    capacity: Annotated[int, Field(ge=1, le=10_000)] | None = None
    disabled: bool | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=1000)] | None = None


class CannedCreate(Strict):
    shortcut: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    ]
    title: ShortText
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class CannedPatch(Strict):
    shortcut: (
        Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
        | None
    ) = None
    title: ShortText | None = None
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None


class CannedOut(BaseModel):
    id: str
    shortcut: str
    title: str
    body: str


class AutoReplyCreate(Strict):
    keywords: Annotated[list[ShortText], Field(min_length=1, max_length=50)]
    reply: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class AutoReplyOut(BaseModel):
    id: str
    keywords: list[str]
    reply: str


class BlacklistCreate(Strict):
    network: Annotated[str, StringConstraints(min_length=2, max_length=64)]
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class BlacklistOut(BaseModel):
    id: str
    network: str
    reason: str | None
    created_at: str


class OfflineMessageCreate(Strict):
    name: ShortText | None = None
    email: EmailStr
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class OfflineMessageOut(BaseModel):
    id: str
    visitor_id: str
    name: str | None
    email: str | None
    body: str
    created_at: str
    ticket_id: str | None


class Status(BaseModel):
    status: str
