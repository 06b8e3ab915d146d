"""Attachments: upload. (Download is served by aiohttp itself: ``kefu.web.downloads``.)

Upload is a raw body (``Content-Type`` is ignored) with the file name in ``?name=`` or
``X-Filename``: no multipart parser is needed. The body is streamed to disk as it arrives
(``Content-Length`` or chunked), the size limit enforced while it streams; visitors'
uploads count against the hourly quotas (``kefu.domain.upload_quota``). The type is sniffed
from the bytes (``kefu.attachments.sniff``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kefu.api.deps import NodeDep, PrincipalDep, client_ip
from kefu.api.schemas import AttachmentLinkOut, AttachmentOut
from kefu.attachments.access import check_access

router = APIRouter(prefix="/api/v1/attachments", tags=["attachments"])


@router.post(
    "",
    status_code=201,
    response_model=AttachmentOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload(
    request: Request,
    caller: PrincipalDep,
    kefu: NodeDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
) -> AttachmentOut:
    """Store a file sent as the raw request body; visitors and agents alike."""
    filename = name or request.headers.get("x-filename")
    length = request.headers.get("content-length", "")
    attachment = await kefu.attachments.upload(
        caller,
        filename,
        request.stream(),
        ip=client_ip(request),
        declared_size=int(length) if length.isdigit() else None,
    )
    return AttachmentOut.of(attachment, kefu.attachments.download_url)


@router.get("/{attachment_id}/link", response_model=AttachmentLinkOut)
async def link(attachment_id: str, caller: PrincipalDep, kefu: NodeDep) -> AttachmentLinkOut:
    """A fresh signed link, for a page kept open longer than the links it was given."""
    attachment = await kefu.attachments.get(attachment_id)
    await check_access(kefu.chat.accessible, caller, attachment)
    return AttachmentLinkOut(download_url=kefu.attachments.download_url(attachment))
