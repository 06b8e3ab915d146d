"""RFC 6455 server-to-client text frames, as a pure function from payloads to bytes.

aiohttp writes one frame per ``transport.write`` (one ``send`` syscall each). Measured
here, syscalls are the largest cost of a chat message: an ack and a ``message.new`` to the
same socket are two. Encoding every frame queued for a socket into one buffer makes it one
write. Server frames are never masked (RFC 6455 §5.1) and kefu never compresses them, so
the frame is a 2-10 byte header and the payload.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

FIN_TEXT = 0x81
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def text_frames(payloads: Iterable[bytes]) -> bytes:
    out = bytearray()
    for payload in payloads:
        size = len(payload)
        if size < 126:
            out += _SHORT.pack(FIN_TEXT, size)
        elif size < 1 << 16:
            out += _MEDIUM.pack(FIN_TEXT, 126, size)
        else:
            out += _LONG.pack(FIN_TEXT, 127, size)
        out += payload
    return bytes(out)
