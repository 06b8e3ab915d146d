"""Every frame the server sends: one msgspec Struct each, and the Struct is what is encoded.

The frames form a tagged union on ``type`` (``ServerFrame``), whichever capability builds
them (chat here and in ``feed``/``gateway``, ``tickets.live``, ``kefu.rule_adapters``'s
notifications). ``SERVER_FRAME_FIELDS`` is derived from the Structs, so the registry the
tests and docs/protocol.md are checked against cannot drift from what is sent.

A frame is built once per event and encoded once (``encode``); the hub sends the same
bytes to every socket. Optional fields (CONTRACT.md lets the server add them) are
``UNSET`` when absent, and msgspec leaves an ``UNSET`` field out of the JSON, so a frame
carries exactly the keys it did as a dict: ``None`` is written as ``null`` where the
protocol always sends the key (``assignee_id``, ``actor``), an ``UNSET`` field not at all.
Moments are ``datetime``s: msgspec writes them exactly as ``kefu.timefmt.iso`` does
(``…Z`` in UTC), several times faster.

Structs encode faster than the dicts they replace (measured: ``bench/frames_encode.py``),
so the relay's hot path (``message.new``) loses nothing by having a schema.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, get_args

import msgspec
from msgspec import UNSET, UnsetType

from kefu.domain.ids import format_message_id
from kefu.domain.models import Attachment, ConversationRecord, ConversationSummary, Message
from kefu.domain.ticket_json import ChangeJson, CommentJson, LiveTicketJson

# Signs a short-lived download link for one attachment (``AttachmentService.download_url``).
# Payloads that go to people who may read the message get one per attachment; payloads
# built without it (list previews) carry no ``download_url``.
LinkSigner = Callable[[Attachment], str]


# ---- the objects frames carry -----------------------------------------------------------
# ``gc=False``: these hold only strings, numbers and each other (never a cycle), so the
# garbage collector need not track the thousands a busy relay creates per second.


class SenderJson(msgspec.Struct, gc=False):
    kind: str  # visitor | agent | system | bot
    id: str | None
    name: str | None


class AttachmentJson(msgspec.Struct, gc=False):
    id: str
    name: str
    content_type: str
    size: int
    # Relative to kefu's origin: the widget, on another origin, prefixes its base URL.
    # Opens with an Authorization header (API clients, the widget's fetch).
    url: str
    # Opens by itself for a few minutes: what a browser puts in <img src> or a link.
    download_url: str | UnsetType = UNSET


class MessageJson(msgspec.Struct, gc=False):
    id: str
    conversation_id: str
    sender: SenderJson
    body: str
    created_at: datetime  # msgspec writes it as ``timefmt.iso`` does, in C
    # Optional field (CONTRACT.md): only messages that carry files have it.
    attachments: list[AttachmentJson] | UnsetType = UNSET
    internal: bool | UnsetType = UNSET  # True on a private note (only agents receive one)


class RatingJson(msgspec.Struct, gc=False):
    score: int
    comment: str | None
    created_at: datetime


class ConversationJson(msgspec.Struct, gc=False, kw_only=True):
    """A conversation as REST lists it (docs/rest.md); frames reuse the same shape."""

    id: str
    visitor_id: str
    status: str
    assignee_id: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    last_message_id: str | None
    # The visitor's satisfaction rating (POST …/rating), once given.
    rating: RatingJson | UnsetType = UNSET


class VisitorJson(msgspec.Struct, gc=False):
    name: str | None
    email: str | None


class SummaryJson(ConversationJson, kw_only=True):
    """A conversation plus what a console's list shows: visitor, unread, last message."""

    visitor: VisitorJson
    unread: int
    visitor_read_id: str | None
    agent_read_id: str | None
    last_message: MessageJson | None
    customer_key: str | None
    customer_linked: bool
    labels: list[str]
    title: str  # the visitor's name, else the customer's key, else "Visitor xxxx"


class EventRef(msgspec.Struct, gc=False):
    """The event a rule's notification is about."""

    id: str
    type: str
    customer_key: str | None


# ---- the frames ---------------------------------------------------------------------------


class _Frame(msgspec.Struct, tag_field="type", gc=False):
    """Base of every server frame: ``type`` is the tag, written first."""


class MessageAck(_Frame, tag="message.ack"):
    """Sent once the message is durably stored."""

    client_msg_id: str
    message_id: str
    conversation_id: str


class MessageNew(_Frame, tag="message.new"):
    message: MessageJson


class ConversationAssigned(_Frame, tag="conversation.assigned"):
    conversation_id: str
    agent_id: str


class ConversationClosed(_Frame, tag="conversation.closed"):
    conversation_id: str


class ConversationReopened(_Frame, tag="conversation.reopened"):
    """To the visitor (and the agent who had it): the closed conversation is open again."""

    conversation_id: str


class TypingFrame(_Frame, tag="typing"):
    conversation_id: str
    sender: SenderJson


class ReadFrame(_Frame, tag="read"):
    conversation_id: str
    message_id: str
    sender: SenderJson


class ResumeDone(_Frame, tag="resume.done"):
    conversation_id: str
    last_message_id: str | None


class ConversationOpened(_Frame, tag="conversation.opened"):
    conversation: SummaryJson


class ConversationUpdated(_Frame, tag="conversation.updated"):
    conversation_id: str
    status: str
    assignee_id: str | None
    # Only what changed beyond status and assignee: the new last message (the feed's
    # ``message``), the labels (``labelled``) or the customer (``customer_linked``).
    last_message: MessageJson | UnsetType = UNSET
    labels: list[str] | UnsetType = UNSET
    customer_key: str | UnsetType | None = UNSET
    customer_linked: bool | UnsetType = UNSET


class Pong(_Frame, tag="pong"):
    pass


class ErrorFrame(_Frame, tag="error"):
    code: str
    message: str
    client_msg_id: str | UnsetType = UNSET  # when the error answers a client's message


class TicketCreated(_Frame, tag="ticket.created"):
    """``kefu.tickets.live``: ``ticket`` is the ticket JSON without ``body``, with its SLA
    verdict (``kefu.domain.ticket_json``, shared with REST and events)."""

    ticket: LiveTicketJson
    actor: str | None


class TicketUpdated(_Frame, tag="ticket.updated"):
    ticket: LiveTicketJson
    changes: dict[str, ChangeJson]  # {field: {"before", "after"}}
    actor: str | None
    comment: CommentJson | UnsetType = UNSET  # when a comment or note was added


class Notification(_Frame, tag="notification"):
    """``kefu.rule_adapters``: a rule's ``notify`` action."""

    message: str
    rule: str
    ticket_id: str | None
    event: EventRef


class SagaUpdated(_Frame, tag="saga.updated"):
    """``kefu.sagas.live``: ``saga`` is the saga JSON of ``GET /api/v1/sagas/{id}``."""

    saga: dict[str, Any]


ServerFrame = (
    MessageAck
    | MessageNew
    | ConversationAssigned
    | ConversationClosed
    | ConversationReopened
    | TypingFrame
    | ReadFrame
    | ResumeDone
    | ConversationOpened
    | ConversationUpdated
    | Pong
    | ErrorFrame
    | TicketCreated
    | TicketUpdated
    | Notification
    | SagaUpdated
)

FRAME_TYPES: tuple[type[_Frame], ...] = get_args(ServerFrame)


def _fields(frame_type: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset({"type", *frame_type.__struct_fields__})


# Field sets of every frame the server sends, derived from the Structs: tests check
# received frames against it and that docs/protocol.md documents each field.
SERVER_FRAME_FIELDS: dict[str, frozenset[str]] = {
    str(t.__struct_config__.tag): _fields(t) for t in FRAME_TYPES
}

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(ServerFrame)


def encode(frame: ServerFrame) -> bytes:
    return _encoder.encode(frame)


def decode(raw: bytes | str) -> ServerFrame:
    """A frame as a client reads it (tests: every frame received fits its schema)."""
    frame: ServerFrame = _decoder.decode(raw)
    return frame


# ---- builders -----------------------------------------------------------------------------


def message_json(message: Message, links: LinkSigner | None = None) -> MessageJson:
    sender = message.sender
    payload = MessageJson(
        format_message_id(message.id),
        message.conversation_id,
        SenderJson(sender.kind.value, sender.id, sender.name),
        message.body,
        message.created_at,
    )
    if message.attachments:
        payload.attachments = [attachment_json(a, links) for a in message.attachments]
    if message.internal:
        payload.internal = True
    return payload


def attachment_json(attachment: Attachment, links: LinkSigner | None = None) -> AttachmentJson:
    return AttachmentJson(
        attachment.id,
        attachment.name,
        attachment.content_type,
        attachment.size,
        f"/api/v1/attachments/{attachment.id}",
        links(attachment) if links is not None else UNSET,
    )


def _conversation_fields(record: ConversationRecord) -> dict[str, Any]:
    rating = record.rating
    return {
        "id": record.id,
        "visitor_id": record.visitor_id,
        "status": record.status.value,
        "assignee_id": record.assignee_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "closed_at": record.closed_at,
        "last_message_id": _id_or_none(record.last_message_id),
        "rating": (
            RatingJson(rating.score, rating.comment, rating.created_at)
            if rating is not None
            else UNSET
        ),
    }


def conversation_json(record: ConversationRecord) -> ConversationJson:
    return ConversationJson(**_conversation_fields(record))


def _id_or_none(seq: int | None) -> str | None:
    return format_message_id(seq) if seq else None


def summary_json(summary: ConversationSummary) -> SummaryJson:
    record = summary.record
    return SummaryJson(
        **_conversation_fields(record),
        visitor=VisitorJson(summary.visitor_name, summary.visitor_email),
        unread=summary.unread,
        visitor_read_id=_id_or_none(record.visitor_read_id),
        agent_read_id=_id_or_none(record.agent_read_id),
        last_message=message_json(summary.last_message) if summary.last_message else None,
        customer_key=summary.customer_key,
        customer_linked=summary.customer_linked,
        labels=list(summary.labels),
        title=summary.title,
    )


# REST answers with the same objects as plain data (pydantic validates them there).


def message_payload(message: Message, links: LinkSigner | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(message_json(message, links))
    return payload


def attachment_payload(attachment: Attachment, links: LinkSigner | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(attachment_json(attachment, links))
    return payload


def conversation_payload(record: ConversationRecord) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(conversation_json(record))
    return payload


def summary_payload(summary: ConversationSummary) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(summary_json(summary))
    return payload


def message_new(message: Message, links: LinkSigner | None = None) -> bytes:
    return encode(MessageNew(message_json(message, links)))


def message_ack(client_msg_id: str, message: Message) -> bytes:
    return encode(MessageAck(client_msg_id, format_message_id(message.id), message.conversation_id))


def error(code: str, message: str, client_msg_id: str | None = None) -> bytes:
    return encode(ErrorFrame(code, message, UNSET if client_msg_id is None else client_msg_id))


def assigned(conversation_id: str, agent_id: str) -> bytes:
    return encode(ConversationAssigned(conversation_id, agent_id))
