"""Records the services pass around: frozen, typed, free of any driver or framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kefu.domain.conversation import ConversationStatus
from kefu.domain.roles import Role


class SenderKind(StrEnum):
    VISITOR = "visitor"
    AGENT = "agent"
    SYSTEM = "system"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    email: str
    name: str
    role: Role
    capacity: int | None
    disabled: bool
    token_version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Visitor:
    id: str
    name: str | None
    email: str | None
    external_id: str | None
    identity_verified: bool
    page_url: str | None
    referrer: str | None
    ip: str | None
    user_agent: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    visitor_id: str
    status: ConversationStatus
    assignee_id: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    last_message_id: int | None
    visitor_read_id: int | None
    agent_read_id: int | None


@dataclass(frozen=True, slots=True)
class Sender:
    kind: SenderKind
    id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: str
    sender: Sender
    body: str
    created_at: datetime
    client_msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message on its way to the store; the store gives it an id and a place in order."""

    conversation_id: str
    sender: Sender
    body: str
    created_at: datetime
    client_msg_id: str | None = None
