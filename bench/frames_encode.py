"""Building and encoding the relay's frames: msgspec Structs against the dicts they replaced.

    python -m bench.frames_encode            # ~10 s, prints a table

The relay's hot path builds ``message.new`` (and ``message.ack``) once per message and
encodes it once. Issue 13 made every server frame a Struct (``kefu.chat.server_frames``);
the dict builders below are the code that was replaced, kept here only as the baseline
measured side by side in the same run. Best of several rounds: the machine is shared,
and the fastest round is the one least disturbed by neighbours.
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime
from typing import Any

import msgspec

from kefu.chat import server_frames
from kefu.domain.ids import format_message_id
from kefu.domain.models import Attachment, Message, Sender, SenderKind
from kefu.timefmt import iso

# Many short rounds, the two sides interleaved, best of each: on a shared machine a
# neighbour's burst then spoils single rounds of both sides rather than all of one.
ROUNDS = 60
LOOPS = 2_000

_encoder = msgspec.json.Encoder()


def _dict_message(message: Message) -> dict[str, Any]:
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
        payload["attachments"] = [
            {
                "id": a.id,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "url": f"/api/v1/attachments/{a.id}",
            }
            for a in message.attachments
        ]
    if message.internal:
        payload["internal"] = True
    return payload


def dict_message_new(message: Message) -> bytes:
    return _encoder.encode({"type": "message.new", "message": _dict_message(message)})


def dict_message_ack(client_msg_id: str, message: Message) -> bytes:
    return _encoder.encode(
        {
            "type": "message.ack",
            "client_msg_id": client_msg_id,
            "message_id": format_message_id(message.id),
            "conversation_id": message.conversation_id,
        }
    )


def _best_ns(old: Any, new: Any) -> tuple[float, float]:
    """Best time per call of ``old`` and of ``new``, measured in alternating rounds."""
    best_old = best_new = float("inf")
    for _ in range(ROUNDS):
        best_old = min(best_old, timeit.timeit(old, number=LOOPS))
        best_new = min(best_new, timeit.timeit(new, number=LOOPS))
    return best_old / LOOPS * 1e9, best_new / LOOPS * 1e9


def main() -> None:
    now = datetime.now(UTC)
    # The bench's relay frame: ~110 bytes of text from a visitor.
    plain = Message(
        1234, "conv_abcdef", Sender(SenderKind.VISITOR, "vis_123456", "Visitor"), "x" * 60, now
    )
    with_file = Message(
        1235,
        "conv_abcdef",
        Sender(SenderKind.AGENT, "agt_1", "Agent"),
        "see attached",
        now,
        attachments=(Attachment("att_1", "0" * 64, "a.png", "image/png", 2048, "agt_1", now),),
    )
    for message in (plain, with_file):
        assert msgspec.json.decode(server_frames.message_new(message)) == msgspec.json.decode(
            dict_message_new(message)
        ), "the Struct frame must say what the dict said"
    cases = [
        ("message.new", lambda: dict_message_new(plain), lambda: server_frames.message_new(plain)),
        (
            "message.new + file",
            lambda: dict_message_new(with_file),
            lambda: server_frames.message_new(with_file),
        ),
        (
            "message.ack",
            lambda: dict_message_ack("c1", plain),
            lambda: server_frames.message_ack("c1", plain),
        ),
    ]
    print(f"{'frame (build + encode)':<24}{'dict ns':>10}{'Struct ns':>12}{'Struct/dict':>13}")
    for name, old, new in cases:
        before, after = _best_ns(old, new)
        print(f"{name:<24}{before:>10.0f}{after:>12.0f}{after / before:>13.2f}")


if __name__ == "__main__":
    main()
