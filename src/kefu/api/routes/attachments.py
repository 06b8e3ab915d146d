"""Attachments: upload. (Download is served by aiohttp itself: ``kefu.web.downloads``.)

Upload is a raw body (``Content-Type`` is ignored) with the file name in ``?name=`` or
``X-Filename``: no multipart parser is needed and the size limit is the body limit. The
type is sniffed from the bytes (``kefu.attachments.sniff``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kefu.api.deps import NodeDep, bearer
from kefu.api.schemas import AttachmentOut

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
    kefu: NodeDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
) -> AttachmentOut:
    """Store a file sent as the raw request body; visitors and agents alike."""
    caller = await kefu.auth.principal(bearer(request))
    data = await request.body()
    filename = name or request.headers.get("x-filename")
    attachment = await kefu.attachments.upload(caller, filename, data)
    return AttachmentOut.of(attachment)
