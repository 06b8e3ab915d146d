"""``GET /api/v1/attachments/{id}``: the file, streamed by aiohttp itself.

Served natively rather than through FastAPI: Starlette's ``FileResponse`` waits for an
ASGI ``http.disconnect`` that the aiohttp-asgi bridge never sends, and aiohttp's own
``FileResponse`` streams with ``sendfile`` and no thread hop anyway.

Safety: ``Content-Disposition: attachment`` for everything but png/jpeg/gif/webp,
``nosniff`` (added for every response) and a sandboxing CSP, so no upload can ever run
as a page on kefu's origin.

Two ways in: ``Authorization: Bearer`` (API clients, the widget's fetch), or a signed
link ``?exp=…&sig=…`` (``kefu.attachments.links``) for what a browser opens by URL, since
``<img src>`` cannot send a header. A token in the URL (``?token=``) is not accepted: it
would land in history, proxy logs and Referer headers.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from kefu.api.kernel import NativeOperation, bearer_token, error_doc
from kefu.attachments.access import check_access
from kefu.attachments.sniff import is_safe_inline
from kefu.errors import KefuError
from kefu.node import Node
from kefu.web.errors import error_response

# Private: only the token or link holder may see it; immutable: a content-addressed blob and its
# metadata never change, so a browser may keep it for a day without asking again.
CACHE_CONTROL = "private, max-age=86400, immutable"
DOWNLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

# Merged into /openapi.json (``kefu.api.app``): the route's documentation, beside it.
OPERATION = NativeOperation(
    method="get",
    path="/api/v1/attachments/{attachment_id}",
    operation={
        "tags": ["attachments"],
        "summary": "Download an attachment: with a bearer token, or by its signed link",
        "operationId": "download_api_v1_attachments__attachment_id__get",
        "parameters": [
            {
                "name": "attachment_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": "Attachment Id"},
            },
            *(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": f"{what} of a signed download_url; with it, no token.",
                    "schema": {"type": "string", "title": name.title()},
                }
                for name, what in (("exp", "Expiry (Unix seconds)"), ("sig", "Signature"))
            ),
        ],
        "responses": {
            "200": {
                "description": "The file, streamed: inline for PNG/JPEG/GIF/WebP, "
                "an attachment otherwise",
                "content": {"application/octet-stream": {}},
            },
            "401": error_doc("missing_token or invalid_token (no link given)"),
            "403": error_doc("invalid_link or link_expired"),
            "404": error_doc("attachment_not_found: none, or not the caller's to read"),
        },
    },
)


def add_routes(app: web.Application, node: Node) -> None:
    async def download(request: web.Request) -> web.StreamResponse:
        try:
            return await _download(node, request)
        except KefuError as exc:
            return error_response(exc)

    app.router.add_get("/api/v1/attachments/{attachment_id}", download)


async def _download(node: Node, request: web.Request) -> web.StreamResponse:
    attachment_id = request.match_info["attachment_id"]
    exp, sig = request.query.get("exp"), request.query.get("sig")
    if exp is not None or sig is not None:
        # The link is the permission: checked before the id is even looked up, so a bad
        # link answers the same 403 whether the attachment exists or not.
        node.attachments.verify_link(attachment_id, exp or "", sig or "")
        attachment = await node.attachments.get(attachment_id)
    else:
        caller = await node.auth.principal(bearer_token(request.headers.get("Authorization")))
        node.blacklist.check(caller, node.client_address.of(request))  # blocked visitors
        attachment = await node.attachments.get(attachment_id)
        await check_access(node.chat.accessible, caller, attachment)
    media_type = attachment.content_type
    if media_type == "text/plain":
        media_type = "text/plain; charset=utf-8"
    disposition = "inline" if is_safe_inline(attachment.content_type) else "attachment"
    return web.FileResponse(
        node.attachments.path(attachment),
        headers={
            "Content-Type": media_type,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(attachment.name)}",
            "Cache-Control": CACHE_CONTROL,
            "Content-Security-Policy": DOWNLOAD_CSP,
            # Shown by the widget on shops of other origins (fetched, then a blob URL).
            "Cross-Origin-Resource-Policy": "cross-origin",
            # A link followed from the file (a PDF's) must not carry the signed URL along.
            "Referrer-Policy": "no-referrer",
        },
    )
