"""Records the services pass around: frozen, typed, free of any driver or framework."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import msgspec

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
    # Signed in and keeping their conversations, but given no new ones (a break).
    away: bool = False
    # The console language the agent chose ("en", "zh-CN"); None follows the browser.
    language: str | None = None


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
    site_id: str | None = None
    timezone: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Rating:
    score: int
    comment: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored file; ``conversation_id``/``message_id`` are set once a message carries it."""

    id: str
    sha256: str
    name: str
    content_type: str
    size: int
    uploader: str
    created_at: datetime
    conversation_id: str | None = None
    message_id: int | None = None


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
    rating: Rating | None = None


# Built for every chat message (``Sender``, ``NewMessage``, then the stored ``Message``):
# frozen msgspec Structs cost about a tenth of a frozen dataclass to build (~0.1 against
# 0.5-0.9 us each, 2026-12-08). ``gc=False``: they hold no reference cycles.
class Sender(msgspec.Struct, frozen=True, gc=False):
    kind: SenderKind
    id: str | None
    name: str | None


class Message(msgspec.Struct, frozen=True, gc=False):
    id: int
    conversation_id: str
    sender: Sender
    body: str
    created_at: datetime
    client_msg_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # A private note: agents' sockets and reads only, never a visitor's (nor the
    # conversation's last message, which the visitor's side sees).
    internal: bool = False


class NewMessage(msgspec.Struct, frozen=True, gc=False):
    """A message on its way to the store; the store gives it an id and a place in order."""

    conversation_id: str
    sender: Sender
    body: str
    created_at: datetime
    client_msg_id: str | None = None
    internal: bool = False


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A conversation as an agent's list shows it: who, how many unread, the last word.

    ``unread`` counts the visitor's messages after the agent side's read marker.
    """

    record: ConversationRecord
    visitor_name: str | None
    visitor_email: str | None
    unread: int
    last_message: Message | None
    customer_key: str | None = None  # the customer 360's key, when one is known
    customer_linked: bool = False  # set by an agent (rather than the visitor's identity)
    labels: tuple[str, ...] = ()  # how the team sorted it ("refund", "billing")

    @property
    def title(self) -> str:
        """What a list or header calls the conversation (CONTRACT): the visitor's name,
        else the customer's key (linked or signed), else "Visitor" and the visitor id's
        last four characters. The console may enrich it from the 360; it is never stored."""
        name = (self.visitor_name or "").strip()
        if name:
            return name
        if self.customer_key:
            return self.customer_key
        return f"Visitor {self.record.visitor_id[-4:]}"
