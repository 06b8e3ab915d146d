"""``kefu.v1.AttachmentService`` over a real gRPC channel to a served node, on both stores
(issue 15, item 19): department systems push files into a ticket or a conversation and
read them back, under the HTTP upload's limits, sniffing and quotas; nothing is left
behind by a refused or abandoned upload."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from kefu.api.grpc.server import MAX_MESSAGE_BYTES, start_grpc
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import attachments, ticket_attachments
from kefu.v1 import attachments_pb2 as pb
from kefu.v1 import attachments_pb2_grpc as pb_grpc
from tests.support.kefu import Kefu, Socket, serving

MAX_BYTES = 2 * 1024 * 1024
CHUNK = 64 * 1024
HANG_GUARD = 30.0  # seconds a state may take to appear on a loaded host; never a timing test
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 6000  # ~1.5 MB, binary after the magic
PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(5000)
ELF = b"\x7fELF" + secrets.token_bytes(2000)


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        attachments={"max_bytes": MAX_BYTES, "token_files_per_hour": 5},
        sites=[{"id": "default", "name": "Acme"}],
    )


@dataclass(frozen=True)
class Rpc:
    """A client of the node's gRPC port: an aio stub, and uploads through the sync API.

    Uploads go through the sync API, as docs/grpc.md advises: grpc.aio's client may
    report a server's early answer to a client stream (over the limit, no such ticket)
    as INTERNAL "Internal error from Core" when a write races it (grpc/grpc#36066)."""

    stub: pb_grpc.AttachmentServiceStub
    port: int

    async def push(
        self, messages: Iterable[pb.UploadRequest], metadata: tuple[tuple[str, str], ...]
    ) -> pb.AttachmentInfo:
        return (await self.pushed(messages, metadata))[0]

    async def pushed(
        self, messages: Iterable[pb.UploadRequest], metadata: tuple[tuple[str, str], ...]
    ) -> tuple[pb.AttachmentInfo, grpc.Call]:
        """The answer and the call (its trailers); a refusal raises ``grpc.RpcError``."""

        def call() -> tuple[pb.AttachmentInfo, grpc.Call]:
            with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
                stub = pb_grpc.AttachmentServiceStub(channel)  # type: ignore[no-untyped-call]
                answer: tuple[pb.AttachmentInfo, grpc.Call] = stub.Upload.with_call(
                    iter(messages), metadata=metadata
                )
                return answer

        return await asyncio.to_thread(call)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[Kefu, Rpc]]:
    async with serving(settings) as kefu:
        server, port = await start_grpc(kefu.node, "127.0.0.1", 0)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.AttachmentServiceStub(channel)  # type: ignore[no-untyped-call]
                yield kefu, Rpc(stub, port)
        finally:
            await server.stop(None)


async def api_token(kefu: Kefu, *scopes: str) -> str:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    status, created = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "Call center", "scopes": list(scopes)}
    )
    assert status == 201, created
    token: str = created["token"]
    return token


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def requests(data: bytes, declare: bool = True, **target: Any) -> Iterable[pb.UploadRequest]:
    metadata = pb.UploadMetadata(filename="file.bin", **target)
    if declare:
        metadata.size = len(data)
    yield pb.UploadRequest(metadata=metadata)
    for start in range(0, len(data), CHUNK):
        yield pb.UploadRequest(chunk=data[start : start + CHUNK])


async def download(
    stub: pb_grpc.AttachmentServiceStub, token: str, attachment_id: str
) -> tuple[pb.AttachmentInfo, bytes]:
    parts = [
        m async for m in stub.Download(pb.DownloadRequest(id=attachment_id), metadata=auth(token))
    ]
    assert parts[0].WhichOneof("part") == "metadata"
    assert all(p.WhichOneof("part") == "chunk" for p in parts[1:])
    return parts[0].metadata, b"".join(p.chunk for p in parts[1:])


async def refused(call: Any) -> grpc.RpcError:
    """The error a call ends with (the aio one, or the sync API's through a thread)."""
    with pytest.raises(grpc.RpcError) as caught:
        await call
    return caught.value


async def ticket(kefu: Kefu) -> tuple[dict[str, Any], str]:
    agent = await kefu.add_agent("Ann")
    status, made = await kefu.post(
        "/api/v1/tickets", agent["token"], {"customer_key": "C1", "subject": "Refund", "body": "x"}
    )
    assert status == 201, made
    return agent, str(made["id"])


async def left_behind(kefu: Kefu) -> tuple[int, list[Path]]:
    """Attachment rows and files on disk (temporary ones included)."""
    async with kefu.node.repos.db.connect() as conn:
        rows = (await conn.execute(sa.select(sa.func.count()).select_from(attachments))).scalar()
    root = kefu.node.settings.data_dir / "attachments"
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return int(rows or 0), files


async def until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + HANG_GUARD
    while not (value := await check()):
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)
    return value


async def test_a_file_pushed_into_a_ticket_comes_back_whole_and_shows_on_the_ticket(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    agent, ticket_id = await ticket(kefu)
    token = await api_token(kefu, "attachments:write", "attachments:read")
    info = await rpc.push(requests(PDF, ticket_id=ticket_id), auth(token))
    assert (info.content_type, info.size, info.ticket_id) == (
        "application/pdf",
        len(PDF),
        ticket_id,
    )
    assert info.sha256 == hashlib.sha256(PDF).hexdigest() and info.id.startswith("att_")

    again, data = await download(rpc.stub, token, info.id)
    assert data == PDF and again.id == info.id and again.ticket_id == ticket_id

    status, files = await kefu.get(f"/api/v1/tickets/{ticket_id}/attachments", agent["token"])
    assert status == 200 and [f["id"] for f in files["items"]] == [info.id]
    async with kefu.http.get(kefu.url(files["items"][0]["download_url"])) as resp:
        assert resp.status == 200 and await resp.read() == PDF


async def test_a_file_pushed_into_a_conversation_is_a_note_unless_shared(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    agent = await kefu.add_agent("Ann")
    ann = await kefu.ws(agent["token"])  # online: the conversation is assigned to her
    visitor = await kefu.visitor(name="Vic")
    vic = await kefu.ws(visitor["token"])
    conversation = (await vic.send_message("my receipt?"))["conversation_id"]
    await ann.expect("conversation.assigned", conversation_id=conversation)
    token = await api_token(kefu, "attachments:write", "attachments:read")

    note = await rpc.push(requests(PNG, conversation_id=conversation), auth(token))
    shared = await rpc.push(
        requests(PDF, conversation_id=conversation, share_with_visitor=True), auth(token)
    )
    assert note.conversation_id == conversation and note.message_id
    assert (note.content_type, shared.content_type) == ("image/png", "application/pdf")

    def carried(page: dict[str, Any]) -> list[str]:
        return [a["id"] for m in page["items"] for a in m.get("attachments", [])]

    path = f"/api/v1/conversations/{conversation}/messages"
    status, for_agent = await kefu.get(path, agent["token"])
    assert status == 200 and carried(for_agent) == [note.id, shared.id]
    status, for_visitor = await kefu.get(path, visitor["token"])
    assert status == 200 and carried(for_visitor) == [shared.id]
    assert (await download(rpc.stub, token, note.id))[1] == PNG

    # Live, as any message: the note to the agent alone, the shared file to both.
    live = [await with_files(ann), await with_files(ann)]
    assert [(m["attachments"][0]["id"], m.get("internal", False)) for m in live] == [
        (note.id, True),
        (shared.id, False),
    ]
    assert live[0]["sender"]["kind"] == "system" and live[0]["sender"]["name"] == "Call center"
    assert (await with_files(vic))["attachments"][0]["id"] == shared.id
    await ann.close()
    await vic.close()


async def with_files(socket: Socket) -> dict[str, Any]:
    """The next message.new on ``socket`` that carries files (others are skipped)."""
    while True:
        message: dict[str, Any] = (await socket.expect("message.new", timeout=HANG_GUARD))[
            "message"
        ]
        if message.get("attachments"):
            return message


async def test_the_type_is_sniffed_from_the_bytes_and_unknown_kinds_are_refused(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    _, ticket_id = await ticket(kefu)
    token = await api_token(kefu, "attachments:write")

    def claimed(data: bytes) -> Iterable[pb.UploadRequest]:
        yield pb.UploadRequest(
            metadata=pb.UploadMetadata(
                ticket_id=ticket_id, filename="scan.txt", content_type="text/plain"
            )
        )
        yield pb.UploadRequest(chunk=data)

    info = await rpc.push(claimed(PNG), auth(token))
    assert (info.content_type, info.filename) == ("image/png", "scan.txt")
    error = await refused(rpc.push(claimed(ELF), auth(token)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (error.details() or "").startswith("unsupported_type:")
    rows, files = await left_behind(kefu)
    assert rows == 1 and len(files) == 1  # the PNG alone


async def test_tokens_without_the_scope_and_bad_tokens_are_refused(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    agent, ticket_id = await ticket(kefu)
    reader = await api_token(kefu, "attachments:read")
    writer = await api_token(kefu, "attachments:write", "tickets:read")
    mine = await rpc.push(requests(PNG, ticket_id=ticket_id), auth(writer))
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        (auth("kefu_not-a-token"), grpc.StatusCode.UNAUTHENTICATED),
        (auth("not-even-kefu"), grpc.StatusCode.UNAUTHENTICATED),
        (auth(agent["token"]), grpc.StatusCode.PERMISSION_DENIED),
        (auth(reader), grpc.StatusCode.PERMISSION_DENIED),
    ):
        error = await refused(rpc.push(requests(PDF, ticket_id=ticket_id), metadata))
        assert error.code() == code, (metadata, error.details())
    error = await refused(download(rpc.stub, writer, mine.id))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (error.details() or "").startswith("missing_scope:")
    assert (await left_behind(kefu))[0] == 1


async def test_over_the_size_limit_or_the_quota_is_resource_exhausted_and_stores_nothing(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    _, ticket_id = await ticket(kefu)
    token = await api_token(kefu, "attachments:write")
    big = b"%PDF-" + bytes(MAX_BYTES)
    for declare in (True, False):  # refused before the body, and while it streams
        error = await refused(rpc.push(requests(big, declare, ticket_id=ticket_id), auth(token)))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert (error.details() or "").startswith("attachment_too_large:")
    assert await left_behind(kefu) == (0, [])

    for _ in range(5):  # token_files_per_hour
        await rpc.push(requests(secrets.token_hex(50).encode(), ticket_id=ticket_id), auth(token))
    error = await refused(rpc.pushed(requests(b"one more", ticket_id=ticket_id), auth(token)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (error.details() or "").startswith("upload_quota_exceeded:")
    assert int(dict(error.trailing_metadata())["retry-after"]) > 0
    assert (await left_behind(kefu))[0] == 5


async def test_unknown_targets_bad_metadata_and_unknown_ids_change_nothing(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    _, ticket_id = await ticket(kefu)
    token = await api_token(kefu, "attachments:write", "attachments:read")
    not_found, invalid = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
    cases: list[tuple[Iterable[pb.UploadRequest], grpc.StatusCode, str]] = [
        (requests(PDF, ticket_id="999999"), not_found, "ticket_not_found"),
        (requests(PDF, ticket_id="12abc"), not_found, "ticket_not_found"),
        (requests(PDF, conversation_id="conv_nope"), not_found, "conversation_not_found"),
        (requests(PDF, conversation_id="c\x00"), not_found, "conversation_not_found"),
        (requests(PDF), invalid, "invalid_target"),
        (iter([pb.UploadRequest(chunk=PDF[:100])]), invalid, "metadata_first"),
        (iter([]), invalid, "metadata_first"),
        (
            iter([*requests(PDF[:1000], ticket_id=ticket_id), pb.UploadRequest(chunk=b"x")]),
            invalid,
            "size_mismatch",
        ),
        (
            iter(list(requests(PDF[:1000], ticket_id=ticket_id))[:-1]),
            invalid,
            "size_mismatch",
        ),
        (
            iter([pb.UploadRequest(metadata=pb.UploadMetadata(ticket_id=ticket_id))]),
            invalid,
            "empty_file",
        ),
    ]  # fmt: skip
    for messages, code, reason in cases:
        error = await refused(rpc.push(messages, auth(token)))
        assert (error.code(), (error.details() or "").split(":")[0]) == (code, reason)
    for unknown in ("att_0000", "", "x" * 500):
        error = await refused(download(rpc.stub, token, unknown))
        assert error.code() == grpc.StatusCode.NOT_FOUND
    assert await left_behind(kefu) == (0, [])


async def test_a_visitors_unsent_upload_is_not_a_departments_to_read(
    served: tuple[Kefu, Rpc],
) -> None:
    kefu, rpc = served
    visitor = await kefu.visitor(name="Vic")
    async with kefu.http.post(
        kefu.url("/api/v1/attachments?name=a.png"),
        data=PNG,
        headers={"Authorization": f"Bearer {visitor['token']}"},
    ) as resp:
        assert resp.status == 201
        upload = await resp.json()
    token = await api_token(kefu, "attachments:read")
    error = await refused(download(rpc.stub, token, upload["id"]))
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("declare", [True, False], ids=["size-declared", "size-unknown"])
async def test_a_client_cancelling_mid_stream_leaves_no_file_and_no_row(
    served: tuple[Kefu, Rpc], declare: bool
) -> None:
    kefu, rpc = served
    _, ticket_id = await ticket(kefu)
    token = await api_token(kefu, "attachments:write")
    hold = asyncio.Event()

    async def stalled() -> AsyncIterator[pb.UploadRequest]:
        for index, message in enumerate(requests(PDF, declare, ticket_id=ticket_id)):
            if index == 6:  # metadata and 5 chunks: past one disk write (256 KiB)
                await hold.wait()  # the client stops sending half-way, then gives up
            yield message

    call = rpc.stub.Upload(stalled(), metadata=auth(token))

    async def writing() -> bool:
        files = (await left_behind(kefu))[1]
        return any(f.stat().st_size > 0 for f in files)

    await until(writing)  # the server has the temporary file and bytes in it
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    async def clean() -> bool:
        return await left_behind(kefu) == (0, [])

    await until(clean)
    async with kefu.node.repos.db.connect() as conn:
        links = await conn.execute(sa.select(sa.func.count()).select_from(ticket_attachments))
        assert links.scalar() == 0


async def test_messages_protobuf_allows_are_taken_and_bytes_that_are_none_are_refused(
    served: tuple[Kefu, Rpc],
) -> None:
    """Chunks are read without protobuf when they are plainly encoded; any other valid
    encoding is read as protobuf reads it, and bytes that are no UploadRequest get a
    clear status, as does a chunk over gRPC's message limit."""
    kefu, rpc = served
    _, ticket_id = await ticket(kefu)
    token = await api_token(kefu, "attachments:write", "attachments:read")

    def upload(*raw: bytes) -> pb.AttachmentInfo:
        with grpc.insecure_channel(f"127.0.0.1:{rpc.port}") as channel:
            call = channel.stream_unary(
                "/kefu.v1.AttachmentService/Upload",
                request_serializer=None,
                response_deserializer=pb.AttachmentInfo.FromString,
            )
            answer: pb.AttachmentInfo = call(iter(raw), metadata=auth(token))
            return answer

    def encoded(message: pb.UploadRequest) -> bytes:
        return message.SerializeToString()

    head = encoded(pb.UploadRequest(metadata=pb.UploadMetadata(ticket_id=ticket_id)))
    first, second = PDF[:1000], PDF[1000:]
    twice = encoded(pb.UploadRequest(chunk=b"dropped")) + encoded(pb.UploadRequest(chunk=first))
    unknown = encoded(pb.UploadRequest(chunk=second)) + b"\x3a\x03abc"  # field 7, unknown
    info = await asyncio.to_thread(upload, head, twice, unknown)
    assert info.size == len(PDF) and info.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (await download(rpc.stub, token, info.id))[1] == PDF

    invalid = grpc.StatusCode.INVALID_ARGUMENT
    chunk = encoded(pb.UploadRequest(chunk=PDF[:100]))
    for raw, code, reason in [
        ((b"\xff\xff", chunk), invalid, "bad_message"),
        ((head, chunk, b"\x12\x05abc"), invalid, "bad_message"),  # says 5 bytes, has 3
        ((head, chunk, head), invalid, "metadata_twice"),
    ]:
        error = await refused(asyncio.to_thread(upload, *raw))
        assert (error.code(), (error.details() or "").split(":")[0]) == (code, reason)

    over = encoded(pb.UploadRequest(chunk=bytes(MAX_MESSAGE_BYTES)))
    error = await refused(asyncio.to_thread(upload, head, over))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(MAX_MESSAGE_BYTES) in (error.details() or "")
    assert (await left_behind(kefu))[0] == 1
