"""The frame codec: every client frame decodes, every bad one maps to a clear code."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.chat import frames, server_frames
from kefu.domain.ids import format_message_id, parse_message_id
from kefu.domain.models import Attachment, Message, Sender, SenderKind


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
        server_frames.message_new(message),
        server_frames.message_ack("c1", message),
        server_frames.error("x", "y", "c1"),
        server_frames.error("x", "y"),
    ]
    for raw in built:
        frame = json.loads(raw)
        assert set(frame) <= server_frames.SERVER_FRAME_FIELDS[frame["type"]]
        assert server_frames.encode(server_frames.decode(raw)) == raw
    new = json.loads(server_frames.message_new(message))["message"]
    assert new["body"] == "<b>hi</b>"
    assert new["id"] == "0000000000000007"
    assert new["created_at"].endswith("Z")


AT = datetime(2026, 11, 28, 13, 28, 37, 304394, tzinfo=UTC)


def test_server_frames_carry_the_keys_they_did_as_dicts() -> None:
    """Optional fields are left out when absent, as the dicts did; ``null`` stays where
    the protocol always sends the key (docs/protocol.md)."""
    plain = Message(7, "conv_1", Sender(SenderKind.BOT, None, "kefu"), "hi", AT)
    assert json.loads(server_frames.message_new(plain)) == {
        "type": "message.new",
        "message": {
            "id": "0000000000000007",
            "conversation_id": "conv_1",
            "sender": {"kind": "bot", "id": None, "name": "kefu"},
            "body": "hi",
            "created_at": "2026-11-28T13:28:37.304394Z",
        },
    }
    note = Message(8, "conv_1", Sender(SenderKind.AGENT, "agt_1", "A"), "n", AT, internal=True)
    assert json.loads(server_frames.message_new(note))["message"]["internal"] is True
    filed = Message(
        9,
        "conv_1",
        Sender(SenderKind.AGENT, "agt_1", "A"),
        "",
        AT.replace(microsecond=0),
        attachments=(Attachment("att_1", "0" * 64, "a.png", "image/png", 5, "agt_1", AT),),
    )
    assert json.loads(server_frames.message_new(filed, lambda a: f"/dl/{a.id}"))["message"][
        "attachments"
    ] == [
        {
            "id": "att_1",
            "name": "a.png",
            "content_type": "image/png",
            "size": 5,
            "url": "/api/v1/attachments/att_1",
            "download_url": "/dl/att_1",
        }
    ]
    assert server_frames.message_payload(filed)["created_at"] == "2026-11-28T13:28:37Z"
    assert "download_url" not in server_frames.message_payload(filed)["attachments"][0]
    assert json.loads(server_frames.error("x", "y")) == {
        "type": "error",
        "code": "x",
        "message": "y",
    }
    updated = server_frames.ConversationUpdated("conv_1", "waiting", None)
    assert json.loads(server_frames.encode(updated)) == {
        "type": "conversation.updated",
        "conversation_id": "conv_1",
        "status": "waiting",
        "assignee_id": None,
    }
    unlinked = server_frames.ConversationUpdated(
        "conv_1", "assigned", "agt_1", customer_key=None, customer_linked=False
    )
    assert json.loads(server_frames.encode(unlinked))["customer_key"] is None
    assert json.loads(server_frames.encode(server_frames.Pong())) == {"type": "pong"}


@given(st.integers(min_value=1, max_value=10**15))
def test_message_ids_sort_as_their_sequence(seq: int) -> None:
    assert parse_message_id(format_message_id(seq)) == seq
    assert format_message_id(seq) < format_message_id(seq + 1)


@pytest.mark.parametrize("bad", ["", "abc", "-1", "1" * 17, "١٢"])
def test_foreign_message_ids_are_rejected(bad: str) -> None:
    assert parse_message_id(bad) is None
