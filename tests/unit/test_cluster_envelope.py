"""What crosses nodes decodes to exactly what was sent, and nothing else decodes."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.cluster import envelope
from kefu.cluster.envelope import Audience, ConversationChanged, Disconnect, Frame, Reload
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


def test_cluster_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="presence_ttl_seconds"):
        ClusterSettings(heartbeat_seconds=10, presence_ttl_seconds=15)
    with pytest.raises(ValueError):
        ClusterSettings(subject="kefu.live.>")  # a wildcard would hear other deployments
    assert ClusterSettings().subject == "kefu.live"
