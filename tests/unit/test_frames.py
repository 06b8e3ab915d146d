"""The frame codec: every client frame decodes, every bad one maps to a clear code."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.chat import frames
from kefu.domain.ids import format_message_id, parse_message_id
from kefu.domain.models import Message, Sender, SenderKind


def test_message_send_decodes() -> None:
    frame = frames.decode('{"type":"message.send","client_msg_id":"c1","body":"hi"}')
    assert frame == frames.MessageSend(client_msg_id="c1", body="hi")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ("[1,2]", "invalid_json"),
        ('{"body":"x"}', "missing_type"),
        ('{"type":"hack"}', "unknown_type"),
        ('{"type":"message.send","client_msg_id":"c"}', "invalid_frame"),
        ('{"type":"message.send","client_msg_id":"","body":"x"}', "invalid_frame"),
        ('{"type":"read","conversation_id":"c","message_id":5}', "invalid_frame"),
    ],
)
def test_bad_frames_get_codes(raw: str, code: str) -> None:
    with pytest.raises(frames.FrameError) as raised:
        frames.decode(raw)
    assert raised.value.code == code


def test_unknown_optional_fields_are_ignored() -> None:
    frame = frames.decode('{"type":"message.send","client_msg_id":"c","body":"x","v2":true}')
    assert frame == frames.MessageSend(client_msg_id="c", body="x")


def test_the_client_msg_id_of_a_bad_frame_is_echoed() -> None:
    with pytest.raises(frames.FrameError) as raised:
        frames.decode('{"type":"message.send","client_msg_id":"c9"}')
    assert raised.value.client_msg_id == "c9"


@given(st.text(max_size=200))
def test_arbitrary_text_never_escapes_as_another_exception(raw: str) -> None:
    with contextlib.suppress(frames.FrameError):
        frames.decode(raw)


def test_every_server_frame_matches_its_schema() -> None:
    message = Message(
        7, "conv_1", Sender(SenderKind.VISITOR, "vis_1", "V"), "<b>hi</b>", datetime.now(UTC)
    )
    built = [
        frames.message_new(message),
        frames.message_ack("c1", message),
        frames.error("x", "y", "c1"),
        frames.error("x", "y"),
    ]
    for raw in built:
        frame = json.loads(raw)
        assert set(frame) <= frames.SERVER_FRAME_FIELDS[frame["type"]]
    new = json.loads(frames.message_new(message))["message"]
    assert new["body"] == "<b>hi</b>"
    assert new["id"] == "0000000000000007"
    assert new["created_at"].endswith("Z")


@given(st.integers(min_value=1, max_value=10**15))
def test_message_ids_sort_as_their_sequence(seq: int) -> None:
    assert parse_message_id(format_message_id(seq)) == seq
    assert format_message_id(seq) < format_message_id(seq + 1)


@pytest.mark.parametrize("bad", ["", "abc", "-1", "1" * 17, "١٢"])
def test_foreign_message_ids_are_rejected(bad: str) -> None:
    assert parse_message_id(bad) is None
