"""The client half of the wire protocol: one schema per frame type, decoded with msgspec.

Client frames are a tagged union on ``type``; anything that does not fit is a
``FrameError`` carrying the code the client gets back. The frames the server sends are
Structs too, in ``kefu.chat.server_frames``; docs/protocol.md documents both.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

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
_NUL_ESCAPE = "\\u0000"
_NUL_ESCAPE_BYTES = _NUL_ESCAPE.encode()
_envelope_decoder = msgspec.json.Decoder(_Envelope)


def decode(data: str | bytes) -> ClientFrame:
    try:
        frame: ClientFrame = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise _explain(data, exc) from None
    # A decoded string holds U+0000 only where the JSON wrote the escape (a raw NUL is
    # not JSON): a frame without one skips the field walk below.
    if (_NUL_ESCAPE_BYTES not in data) if isinstance(data, bytes) else (_NUL_ESCAPE not in data):
        return frame
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
