"""``kefu.api.grpc.wire`` reads and writes AttachmentService's chunk messages exactly as
protobuf does, and leaves every other message to protobuf."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kefu.api.grpc.wire import chunk_message, chunk_view
from kefu.v1 import attachments_pb2 as pb

# Lengths around the varint's byte boundaries (127/128, 16383/16384) and large chunks.
sizes = st.sampled_from([0, 1, 127, 128, 129, 16383, 16384, 65536, 262144, 1048576])
chunks = st.one_of(st.binary(max_size=300), sizes.map(lambda n: bytes(range(256)) * (n // 256)))


@given(chunks)
def test_a_download_chunk_is_what_protobuf_writes(data: bytes) -> None:
    message = chunk_message(data)
    assert message == pb.DownloadResponse(chunk=data).SerializeToString()
    assert pb.DownloadResponse.FromString(message).chunk == data


@given(chunks)
def test_an_upload_chunk_is_read_as_protobuf_reads_it(data: bytes) -> None:
    raw = pb.UploadRequest(chunk=data).SerializeToString()
    view = chunk_view(raw)
    assert view is not None
    assert bytes(view) == data
    assert view.obj is raw  # a view into the message: no copy


@given(chunks, st.binary(max_size=50))
def test_anything_but_a_lone_chunk_is_left_to_protobuf(data: bytes, other: bytes) -> None:
    lone = pb.UploadRequest(chunk=data).SerializeToString()
    metadata = pb.UploadRequest(metadata=pb.UploadMetadata(ticket_id="42", size=len(data)))
    unknown_field = b"\x1a" + bytes([len(other)]) + other  # field 3, length-delimited
    cases = [
        metadata.SerializeToString(),
        lone + lone,  # the field twice: protobuf keeps the last
        lone + unknown_field,
        unknown_field + lone,
        lone[:-1] if data else b"\x12",  # cut short
        lone + b"\x00",
        b"",
        b"\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # a varint past 10 bytes
    ]
    for raw in cases:
        assert chunk_view(raw) is None, raw[:20]
