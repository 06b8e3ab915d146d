"""What crosses nodes decodes to exactly what was sent, and nothing else decodes."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.cluster import envelope
from kefu.cluster.envelope import (
    Announce,
    Audience,
    ConversationChanged,
    Disconnect,
    Frame,
    Reload,
)
from kefu.cluster.settings import ClusterSettings

frames = st.builds(
    Frame,
    keys=st.lists(st.text(max_size=40), max_size=5),
    audience=st.sampled_from(list(Audience)),
    frame=st.binary(max_size=300),
    conversation_id=st.none() | st.text(max_size=40),
    message_id=st.none() | st.integers(min_value=0, max_value=10**16),
    skip=st.none() | st.text(max_size=40),
)
items = st.one_of(
    frames,
    st.builds(Disconnect, key=st.text(max_size=40), reason=st.text(max_size=40)),
    st.builds(ConversationChanged, conversation_id=st.text(max_size=40)),
    st.builds(Reload, what=st.sampled_from(["blacklist", "auto_replies"])),
)


@given(st.lists(items, max_size=20))
def test_a_batch_round_trips(batch: list[envelope.Item]) -> None:
    assert envelope.decode(envelope.encode(batch)) == batch


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"not msgpack",
        msgspec.msgpack.encode({"type": "message.new"}),
        msgspec.msgpack.encode([[9, "unknown tag"]]),
        msgspec.msgpack.encode([[0, ["k"], 7, b"frame"]]),  # audience out of range
        msgspec.msgpack.encode([[1, "only a key"]]),  # Disconnect without a reason
    ],
)
def test_anything_else_is_refused(junk: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        envelope.decode(junk)


announcements = st.builds(
    Announce,
    node=st.text(max_size=60),
    audiences=st.lists(st.sampled_from([Audience.SUPERVISORS, Audience.AGENTS]), unique=True),
    ttl_seconds=st.floats(min_value=0, max_value=3600),
    leaving=st.booleans(),
)


@given(announcements)
def test_an_announcement_round_trips(announce: Announce) -> None:
    assert envelope.decode_announce(envelope.encode_announce(announce)) == announce


def test_an_announcement_with_fields_from_a_newer_version_still_reads() -> None:
    newer = msgspec.msgpack.encode(["node-b", [1, 2], 15.0, False, "some future field"])
    assert envelope.decode_announce(newer) == Announce(
        "node-b", [Audience.SUPERVISORS, Audience.AGENTS], 15.0
    )


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        msgspec.msgpack.encode([[0, ["k"], 1, b"frame"]]),  # a batch of items, not an announce
        msgspec.msgpack.encode(["node-b", [9], 15.0]),  # an audience this version lacks
    ],
)
def test_anything_else_is_not_an_announcement(junk: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        envelope.decode_announce(junk)


def test_an_announcement_is_not_an_item() -> None:
    """Announcements travel on their own subject: a batch holding one would not read on
    an older node, which would then lose the frames beside it."""
    with pytest.raises(msgspec.DecodeError):
        envelope.decode(msgspec.msgpack.encode([Announce("n", [], 1.0)]))


def test_cluster_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="presence_ttl_seconds"):
        ClusterSettings(heartbeat_seconds=10, presence_ttl_seconds=15)
    with pytest.raises(ValueError):
        ClusterSettings(subject="kefu.live.>")  # a wildcard would hear other deployments
    assert ClusterSettings().subject == "kefu.live"
