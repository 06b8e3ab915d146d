"""``kefu.v1.AttachmentService``: department systems push files into a ticket or a
conversation (client-streaming ``Upload``) and read them back (server-streaming
``Download``), authenticated by an API token with ``attachments:write`` / ``:read``.

Only the wire lives here; the rules are ``department_files``'s, which uses the HTTP
upload's own service (limits, sniffing, quotas, streaming to disk). Chunks are passed
on as they arrive and read from disk as they are sent: one call holds a chunk or two,
however large the file.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import grpc

from kefu.api.grpc.department_files import DepartmentFiles, Placed, Target
from kefu.api.grpc.status import abort, bearer
from kefu.auth.api_tokens import Machine, is_api_token
from kefu.domain.ids import format_message_id
from kefu.errors import BadInput, Forbidden, Unauthenticated
from kefu.node import Node
from kefu.timefmt import iso
from kefu.v1 import attachments_pb2 as pb
from kefu.v1 import attachments_pb2_grpc as pb_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["AttachmentService"].full_name
# Bytes per Download message: large enough that gRPC's per-message cost is small against
# the copy, small enough that a call holds little: measured (bench grpc_attachments'
# harness, 200 MiB uploads) 256 KiB messages left the server 0-2 MiB above its resting
# RSS where 1 MiB ones left 6-9 MiB, at the same speed.
DOWNLOAD_CHUNK_BYTES = 256 * 1024


class AttachmentService(pb_grpc.AttachmentServiceServicer):
    def __init__(self, node: Node) -> None:
        self._node = node
        self._files = DepartmentFiles(
            node.attachments, node.repos.attachments, node.tickets, node.chat
        )

    async def Upload(
        self, request_iterator: AsyncIterable[pb.UploadRequest], context: grpc.aio.ServicerContext
    ) -> pb.AttachmentInfo:
        try:
            machine = await self._machine(context, "attachments:write")
            requests = aiter(request_iterator)
            first = await anext(requests, None)
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
    ) -> AsyncIterator[pb.DownloadResponse]:
        try:
            machine = await self._machine(context, "attachments:read")
            placed = await self._files.readable(machine, request.id)
            yield pb.DownloadResponse(metadata=_info(placed))
            async for chunk in self._node.attachments.read(placed.attachment, DOWNLOAD_CHUNK_BYTES):
                yield pb.DownloadResponse(chunk=chunk)
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


async def _chunks(
    requests: AsyncIterator[pb.UploadRequest], declared: int | None
) -> AsyncIterator[bytes]:
    """The file's bytes from the messages after the metadata; a declared size must match."""
    received = 0
    async for request in requests:
        if request.WhichOneof("part") != "chunk":
            raise BadInput("after the metadata every message is a chunk", code="metadata_twice")
        chunk = request.chunk  # each read of the field is a fresh copy: read it once
        received += len(chunk)
        if declared is not None and received > declared:
            raise BadInput(f"more bytes than the declared {declared}", code="size_mismatch")
        yield chunk
    if declared is not None and received != declared:
        raise BadInput(f"{received} bytes sent, {declared} declared", code="size_mismatch")


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
