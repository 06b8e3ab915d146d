"""The wire protocol: one schema per frame type, decoded and encoded with msgspec.

Client frames are a tagged union on ``type``; anything that does not fit is a
``FrameError`` carrying the code the client gets back. Server frames are built as plain
dicts once per event and encoded once (see ``encode``), then the same bytes go to every
socket. docs/protocol.md documents each frame; tests check every server frame we emit
against the schemas in ``SERVER_FRAME_FIELDS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from kefu.domain.ids import format_message_id
from kefu.domain.models import Attachment, ConversationRecord, ConversationSummary, Message
from kefu.timefmt import iso

ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
ConversationId = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
MessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


# Unknown fields are ignored, not refused: CONTRACT.md lets clients and servers add
# optional fields, and an older server must not break a newer client.
class MessageSend(msgspec.Struct, tag="message.send", tag_field="type"):
    client_msg_id: ClientMsgId
    body: str
    conversation_id: ConversationId | None = None
    # Ids from POST /api/v1/attachments; the body may then be empty.
    attachment_ids: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=10)
    ] = []
    # A private note: agents only; the visitor never receives or reads it.
    internal: bool = False


class Typing(msgspec.Struct, tag="typing", tag_field="type"):
    conversation_id: ConversationId


class Read(msgspec.Struct, tag="read", tag_field="type"):
    conversation_id: ConversationId
    message_id: MessageId


class Resume(msgspec.Struct, tag="resume", tag_field="type"):
    conversation_id: ConversationId
    after_message_id: Annotated[str, msgspec.Meta(max_length=20)]


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    """Application-level keepalive for clients that cannot see WebSocket pings (browsers)."""


class Watch(msgspec.Struct, tag="watch", tag_field="type"):
    """A supervisor's console follows a conversation it does not own, live."""

    conversation_id: ConversationId


class Unwatch(msgspec.Struct, tag="unwatch", tag_field="type"):
    conversation_id: ConversationId


ClientFrame = MessageSend | Typing | Read | Resume | Ping | Watch | Unwatch
CLIENT_TYPES = frozenset({"message.send", "typing", "read", "resume", "ping", "watch", "unwatch"})


class _Envelope(msgspec.Struct):
    """Just enough of any frame to answer it well when the full decode fails."""

    type: Any = None
    client_msg_id: Any = None


class FrameError(Exception):
    def __init__(self, code: str, message: str, client_msg_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_msg_id = client_msg_id


_decoder = msgspec.json.Decoder(ClientFrame)
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_encoder = msgspec.json.Encoder()


def decode(data: str | bytes) -> ClientFrame:
    try:
        frame: ClientFrame = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise _explain(data, exc) from None
    for name in frame.__struct_fields__:
        value = getattr(frame, name)
        if isinstance(value, str) and "\x00" in value:
            # PostgreSQL text cannot hold U+0000: refuse it before it reaches a batch.
            raise FrameError(
                "invalid_frame",
                f"`{name}` must not contain the NUL character (U+0000)",
                getattr(frame, "client_msg_id", None),
            )
    return frame


def _explain(data: str | bytes, exc: msgspec.DecodeError) -> FrameError:
    try:
        envelope = _envelope_decoder.decode(data)
    except msgspec.DecodeError:
        return FrameError("invalid_json", "the frame is not a JSON object")
    client_msg_id = envelope.client_msg_id if isinstance(envelope.client_msg_id, str) else None
    if envelope.type is None:
        return FrameError("missing_type", "the frame has no `type`", client_msg_id)
    if envelope.type not in CLIENT_TYPES:
        return FrameError(
            "unknown_type", f"unknown frame type {str(envelope.type)[:40]!r}", client_msg_id
        )
    return FrameError("invalid_frame", str(exc), client_msg_id)


def client_msg_id_of(data: str | bytes) -> str | None:
    """Best-effort ``client_msg_id`` of a frame we will not process, for the error frame."""
    try:
        value = _envelope_decoder.decode(data).client_msg_id
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) else None


def encode(frame: dict[str, Any]) -> bytes:
    return _encoder.encode(frame)


# Signs a short-lived download link for one attachment (``AttachmentService.download_url``).
# Payloads that go to people who may read the message get one per attachment; payloads
# built without it (list previews) carry no ``download_url``.
LinkSigner = Callable[[Attachment], str]


def message_payload(message: Message, links: LinkSigner | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": format_message_id(message.id),
        "conversation_id": message.conversation_id,
        "sender": {
            "kind": message.sender.kind.value,
            "id": message.sender.id,
            "name": message.sender.name,
        },
        "body": message.body,
        "created_at": iso(message.created_at),
    }
    if message.attachments:
        # Optional field (CONTRACT.md): only messages that carry files have it.
        payload["attachments"] = [attachment_payload(a, links) for a in message.attachments]
    if message.internal:
        payload["internal"] = True  # a private note (only agents ever receive one)
    return payload


def attachment_payload(attachment: Attachment, links: LinkSigner | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": attachment.id,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        # Relative to kefu's origin: the widget, on another origin, prefixes its base URL.
        # Opens with an Authorization header (API clients, the widget's fetch).
        "url": f"/api/v1/attachments/{attachment.id}",
    }
    if links is not None:
        # Opens by itself for a few minutes: what a browser puts in <img src> or a link.
        payload["download_url"] = links(attachment)
    return payload


def conversation_payload(record: ConversationRecord) -> dict[str, Any]:
    """A conversation as REST lists it (docs/rest.md); frames reuse the same shape."""
    payload: dict[str, Any] = {
        "id": record.id,
        "visitor_id": record.visitor_id,
        "status": record.status.value,
        "assignee_id": record.assignee_id,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "closed_at": iso(record.closed_at) if record.closed_at else None,
        "last_message_id": (
            format_message_id(record.last_message_id) if record.last_message_id else None
        ),
    }
    if record.rating is not None:
        # The visitor's satisfaction rating (POST …/rating), once given.
        payload["rating"] = {
            "score": record.rating.score,
            "comment": record.rating.comment,
            "created_at": iso(record.rating.created_at),
        }
    return payload


def _id_or_none(seq: int | None) -> str | None:
    return format_message_id(seq) if seq else None


def summary_payload(summary: ConversationSummary) -> dict[str, Any]:
    """A conversation plus what a console's list shows: visitor, unread, last message."""
    return conversation_payload(summary.record) | {
        "visitor": {"name": summary.visitor_name, "email": summary.visitor_email},
        "unread": summary.unread,
        "visitor_read_id": _id_or_none(summary.record.visitor_read_id),
        "agent_read_id": _id_or_none(summary.record.agent_read_id),
        "last_message": message_payload(summary.last_message) if summary.last_message else None,
        "customer_key": summary.customer_key,
        "customer_linked": summary.customer_linked,
        "labels": list(summary.labels),
    }


def message_new(message: Message, links: LinkSigner | None = None) -> bytes:
    return encode({"type": "message.new", "message": message_payload(message, links)})


def message_ack(client_msg_id: str, message: Message) -> bytes:
    return encode(
        {
            "type": "message.ack",
            "client_msg_id": client_msg_id,
            "message_id": format_message_id(message.id),
            "conversation_id": message.conversation_id,
        }
    )


def error(code: str, message: str, client_msg_id: str | None = None) -> bytes:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_msg_id is not None:
        frame["client_msg_id"] = client_msg_id
    return encode(frame)


# Field sets of every frame the server sends, whichever capability builds it (chat here,
# tickets.live, events.runtime's notifications): the one registry. Tests check emitted
# frames against it, that every frame literal in the code is in it
# (tests/unit/test_protocol_docs.py), and that docs/protocol.md documents each.
SERVER_FRAME_FIELDS: dict[str, frozenset[str]] = {
    "message.ack": frozenset({"type", "client_msg_id", "message_id", "conversation_id"}),
    "message.new": frozenset({"type", "message"}),
    "conversation.assigned": frozenset({"type", "conversation_id", "agent_id"}),
    "conversation.closed": frozenset({"type", "conversation_id"}),
    "typing": frozenset({"type", "conversation_id", "sender"}),
    "read": frozenset({"type", "conversation_id", "message_id", "sender"}),
    "resume.done": frozenset({"type", "conversation_id", "last_message_id"}),
    "conversation.opened": frozenset({"type", "conversation"}),
    "conversation.updated": frozenset(
        {
            "type",
            "conversation_id",
            "status",
            "assignee_id",
            "last_message",
            "labels",  # ChatFeed.labelled
            "customer_key",  # ChatFeed.customer_linked
            "customer_linked",
        }
    ),
    "pong": frozenset({"type"}),
    "error": frozenset({"type", "code", "message", "client_msg_id"}),
    # kefu.tickets.live (schemas there: CreatedFrame, UpdatedFrame)
    "ticket.created": frozenset({"type", "ticket", "actor"}),
    "ticket.updated": frozenset({"type", "ticket", "changes", "actor", "comment"}),
    # kefu.events.runtime: a rule's ``notify`` action
    "notification": frozenset({"type", "message", "rule", "ticket_id", "event"}),
}
