"""The bytes of AttachmentService's chunk messages, read and written without protobuf.

A chunk message is one field: ``UploadRequest.chunk`` and ``DownloadResponse.chunk`` are
both field 2 of type ``bytes``, so on the wire such a message is the tag byte ``0x12``,
the length as a varint, then the file's bytes. Going through protobuf costs copies of
every byte on top of gRPC's own: parsing an upload message copies the chunk into the
message and each read of ``.chunk`` copies it again; building a download message copies
the chunk in and serialising copies it out. At hundreds of MB/s those copies were a good
part of the server's CPU (bench ``grpc_attachments``), so the chunk messages take this
path: an upload's chunk is a view into the received message (no copy at all), and a
download's message is the header joined to the bytes read (one copy).

Anything that is not exactly one chunk field (the metadata, a message with unknown or
repeated fields, which protobuf allows) is left to protobuf: :func:`chunk_view` answers
None for it, and callers parse it with the generated classes. Tests check both against
protobuf's own encoding.
"""

from __future__ import annotations

CHUNK_TAG = 0x12  # field 2, wire type 2 (length-delimited)
# A varint of a length that fits in 64 bits takes at most 10 bytes.
MAX_VARINT_BYTES = 10


def chunk_view(message: bytes) -> memoryview | None:
    """The chunk of a serialised ``UploadRequest`` that holds only ``chunk``, as a view
    into ``message``; None when the message is anything else (parse it with protobuf)."""
    if not message or message[0] != CHUNK_TAG:
        return None
    length = 0
    shift = 0
    index = 1
    end = min(len(message), 1 + MAX_VARINT_BYTES)
    while index < end:
        byte = message[index]
        index += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if len(message) - index != length:
                return None  # more fields follow (or fewer bytes than said): protobuf's
            return memoryview(message)[index:]
        shift += 7
    return None


def chunk_message(data: bytes | memoryview) -> bytes:
    """A serialised ``DownloadResponse`` holding ``data`` as its ``chunk`` (a copy: a
    view may be into a buffer that is reused)."""
    return b"".join((_header(len(data)), data))


def _header(length: int) -> bytes:
    out = bytearray((CHUNK_TAG,))
    while length > 0x7F:
        out.append((length & 0x7F) | 0x80)
        length >>= 7
    out.append(length)
    return bytes(out)
