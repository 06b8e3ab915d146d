"""The server frame encoder produces what RFC 6455 says, for every length class."""

from __future__ import annotations

import struct

import pytest

from kefu.chat.wsframe import text_frames


def _parse(data: bytes) -> list[bytes]:
    """A minimal independent reader of unmasked server frames."""
    frames = []
    offset = 0
    while offset < len(data):
        first, second = data[offset], data[offset + 1]
        assert first == 0x81  # FIN + text
        assert second & 0x80 == 0  # servers never mask
        size = second & 0x7F
        offset += 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, offset)
            offset += 2
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, offset)
            offset += 8
        frames.append(data[offset : offset + size])
        offset += size
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_each_length_class_round_trips(size: int) -> None:
    payload = b"x" * size
    assert _parse(text_frames([payload])) == [payload]


def test_several_frames_are_concatenated_in_order() -> None:
    payloads = [b'{"type":"message.ack"}', b"y" * 300, b'{"type":"message.new"}']
    assert _parse(text_frames(payloads)) == payloads
