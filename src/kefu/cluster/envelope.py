"""What crosses nodes: live frames and the signals that keep node-local caches true.

One NATS message carries everything a node sent in one loop iteration (a list of items),
so a burst of chat messages costs one publish, not one per frame. msgpack via msgspec,
array-like structs: a frame crosses as the exact bytes the local sockets got.

Besides, each node announces which audiences it has sockets for (``Announce``), on a
subject of its own (``<cluster.subject>.nodes``) rather than as a new ``Item``: a node of
an older version, which knows only the items below, never sees an announcement, and a
batch of frames stays readable by every version.
"""

from __future__ import annotations

import enum

import msgspec


class Audience(enum.IntEnum):
    """Agents a frame goes to besides the named principals, resolved on each node against
    the agents online *there* (no node knows who is online elsewhere)."""

    NONE = 0
    SUPERVISORS = 1  # supervisors and admins
    AGENTS = 2  # every online agent


class Frame(msgspec.Struct, array_like=True, tag=0):
    """``Hub.send`` on another node: the same arguments, the frame already encoded."""

    keys: list[str]
    audience: Audience
    frame: bytes
    conversation_id: str | None = None
    message_id: int | None = None
    skip: str | None = None


class Disconnect(msgspec.Struct, array_like=True, tag=1):
    """Close every socket of ``key`` (its credentials were revoked)."""

    key: str
    reason: str


class ConversationChanged(msgspec.Struct, array_like=True, tag=2):
    """The conversation's status or assignee changed: drop any cached copy."""

    conversation_id: str


class Reload(msgspec.Struct, array_like=True, tag=3):
    """Node-local copies of admin-edited data went stale: ``what`` is ``blacklist`` or
    ``auto_replies``; read it again from the store."""

    what: str


Item = Frame | Disconnect | ConversationChanged | Reload

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(list[Item])


def encode(items: list[Item]) -> bytes:
    return _encoder.encode(items)


def decode(payload: bytes) -> list[Item]:
    """Raise ``msgspec.DecodeError`` on anything another kefu node would not have sent."""
    return _decoder.decode(payload)


class Announce(msgspec.Struct, array_like=True):
    """``node`` has sockets for ``audiences`` and says so again within ``ttl_seconds``
    (``kefu.cluster.peers``); ``leaving``: it is stopping, forget it now.

    Fields are only ever appended, with defaults: an older node reads a newer
    announcement (msgspec ignores trailing fields of an array-like struct)."""

    node: str
    audiences: list[Audience]
    ttl_seconds: float
    leaving: bool = False


_announce_decoder = msgspec.msgpack.Decoder(Announce)


def encode_announce(announce: Announce) -> bytes:
    return _encoder.encode(announce)


def decode_announce(payload: bytes) -> Announce:
    """Raise ``msgspec.DecodeError`` on anything that is not a node's announcement."""
    return _announce_decoder.decode(payload)
