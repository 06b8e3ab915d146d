"""``kefu.v1.AttachmentService``: department systems push files into a ticket or a
conversation (client-streaming ``Upload``) and read them back (server-streaming
``Download``), authenticated by an API token with ``attachments:write`` / ``:read``.

Only the wire lives here; the rules are ``department_files``'s, which uses the HTTP
upload's own service (limits, sniffing, quotas, streaming to disk). Chunks are passed
on as they arrive and read from disk as they are sent: one call holds a chunk or two,
however large the file.

The chunk messages skip protobuf (``kefu.api.grpc.wire``): the service is registered by
:func:`add_to_server` with raw bytes for ``Upload``'s requests and ``Download``'s
responses, and only the other messages go through the generated classes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import grpc
from google.protobuf.message import DecodeError

from kefu.api.grpc.department_files import DepartmentFiles, Placed, Target
from kefu.api.grpc.status import abort, bearer
from kefu.api.grpc.wire import chunk_message, chunk_view
from kefu.attachments.storage import Chunk
from kefu.auth.api_tokens import Machine, is_api_token
from kefu.domain.ids import format_message_id
from kefu.errors import BadInput, Forbidden, Unauthenticated
from kefu.node import Node
from kefu.timefmt import iso
from kefu.v1 import attachments_pb2 as pb
from kefu.v1 import attachments_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["AttachmentService"].full_name
# Bytes per Download message: gRPC's and Python's cost per message (a read, an HTTP/2
# write, a wake-up of the loop) is paid 4 times less often than with 256 KiB, and a call
# holds one read buffer and one message (bench grpc_attachments).
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


def add_to_server(service: AttachmentService, server: grpc.aio.Server) -> None:
    """Register ``service`` as the generated ``add_AttachmentServiceServicer_to_server``
    would, except that ``Upload``'s requests arrive as bytes and ``Download``'s
    responses leave as bytes (see ``kefu.api.grpc.wire``)."""
    handlers = {
        "Upload": grpc.stream_unary_rpc_method_handler(
            service.Upload, response_serializer=pb.AttachmentInfo.SerializeToString
        ),
        "Download": grpc.unary_stream_rpc_method_handler(
            service.Download, request_deserializer=pb.DownloadRequest.FromString
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


class AttachmentService(pb_grpc.AttachmentServiceServicer):
    def __init__(self, node: Node) -> None:
        self._node = node
        self._files = DepartmentFiles(
            node.attachments, node.repos.attachments, node.tickets, node.chat
        )

    async def Upload(
        self, request_iterator: AsyncIterable[bytes], context: grpc.aio.ServicerContext
    ) -> pb.AttachmentInfo:
        """``request_iterator`` yields each ``UploadRequest`` still serialised."""
        try:
            machine = await self._machine(context, "attachments:write")
            requests = aiter(request_iterator)
            raw = await anext(requests, None)
            first = None if raw is None else _parsed(raw)
            if first is None or first.WhichOneof("part") != "metadata":
                raise BadInput("the first message must carry the metadata", code="metadata_first")
            meta = first.metadata
            where = meta.WhichOneof("target")
            target = Target(
                ticket_id=meta.ticket_id if where == "ticket_id" else None,
                conversation_id=meta.conversation_id if where == "conversation_id" else None,
                share_with_visitor=meta.share_with_visitor,
            )
            declared = meta.size if meta.HasField("size") else None
            placed = await self._files.upload(
                machine, target, meta.filename or None, _chunks(requests, declared), declared
            )
            return _info(placed)
        except Exception as exc:
            await abort(context, "kefu.v1.AttachmentService/Upload", exc)

    async def Download(
        self, request: pb.DownloadRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Yields each ``DownloadResponse`` serialised."""
        try:
            machine = await self._machine(context, "attachments:read")
            placed = await self._files.readable(machine, request.id)
            yield pb.DownloadResponse(metadata=_info(placed)).SerializeToString()
            async for chunk in self._node.attachments.read(placed.attachment, DOWNLOAD_CHUNK_BYTES):
                yield chunk_message(chunk)
        except Exception as exc:
            await abort(context, "kefu.v1.AttachmentService/Download", exc)

    async def _machine(self, context: grpc.aio.ServicerContext, scope: str) -> Machine:
        """The calling API token; an agent's or visitor's token is known but not enough."""
        token = bearer(context)
        if token is None:
            raise Unauthenticated(f"an API token with the {scope} scope is required")
        if not is_api_token(token):
            await self._node.auth.principal(token)  # a bad token is 401, a good one not enough
            raise Forbidden(f"this needs an API token with {scope}", code="missing_scope")
        return await self._node.api_tokens.authenticate(token)


async def _chunks(requests: AsyncIterator[bytes], declared: int | None) -> AsyncIterator[Chunk]:
    """The file's bytes from the messages after the metadata; a declared size must match."""
    received = 0
    async for raw in requests:
        chunk: Chunk | None = chunk_view(raw)
        if chunk is None:  # not the plain encoding of a chunk: protobuf decides
            request = _parsed(raw)
            if request.WhichOneof("part") != "chunk":
                raise BadInput("after the metadata every message is a chunk", code="metadata_twice")
            chunk = request.chunk
        received += len(chunk)
        if declared is not None and received > declared:
            raise BadInput(f"more bytes than the declared {declared}", code="size_mismatch")
        yield chunk
    if declared is not None and received != declared:
        raise BadInput(f"{received} bytes sent, {declared} declared", code="size_mismatch")


def _parsed(raw: bytes) -> pb.UploadRequest:
    try:
        return pb.UploadRequest.FromString(raw)
    except DecodeError:
        raise BadInput("a message is not an UploadRequest", code="bad_message") from None


def _info(placed: Placed) -> pb.AttachmentInfo:
    attachment = placed.attachment
    return pb.AttachmentInfo(
        id=attachment.id,
        filename=attachment.name,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        created_at=iso(attachment.created_at),
        ticket_id=str(placed.ticket_id) if placed.ticket_id is not None else "",
        conversation_id=attachment.conversation_id or "",
        message_id=format_message_id(placed.message_id) if placed.message_id is not None else "",
    )
