"""The HTTP server: aiohttp owns the socket, serves ``/ws`` natively and hands every
other path to the FastAPI app through aiohttp-asgi.

Why two frameworks on one port: aiohttp measured leanest and fastest for WebSockets here
(14 KB per idle socket, ~2x uvicorn's relay rate; bench/README.md), while FastAPI gives
typed REST and OpenAPI. One host:port keeps CONTRACT.md's single origin.
"""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler
from aiohttp_asgi import ASGIResource

from kefu.api.app import create_api
from kefu.chat.gateway import Gateway
from kefu.node import Node
from kefu.observability import metrics

log = logging.getLogger(__name__)

# REST bodies are small JSON documents; a MiB bounds memory per request (uploads get their
# own limit when attachments land).
MAX_REQUEST_BYTES = 1024 * 1024


def create_app(node: Node) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[_json_errors])
    gateway = Gateway(
        node.auth,
        node.chat,
        node.hub,
        node.repos.agents,
        node.blacklist,
        node.client_address,
        node.settings.websocket,
    )
    app.router.add_get("/ws", gateway.handle)
    app.router.register_resource(ASGIResource(create_api(node), root_path="/"))

    async def close_sockets(_app: web.Application) -> None:
        """Tell clients we are going away (1001) so they reconnect and resume."""
        await asyncio.gather(
            *(
                c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"restart")
                for c in node.hub.connections()
            ),
            return_exceptions=True,
        )

    app.on_shutdown.append(close_sockets)
    return app


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own refusals (oversized body, bad method on /ws) in the contract's shape."""
    if request.path != "/ws":
        if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
            return _error(
                413, "too_large", f"request bodies are limited to {MAX_REQUEST_BYTES} bytes"
            )
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # Bodies must declare their length so the limit above can hold.
            return _error(411, "length_required", "send a Content-Length header")
    try:
        response: web.StreamResponse = await handler(request)
        metrics.HTTP_REQUESTS.labels(request.method, str(response.status)).inc()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status, "bad_request"
        )
        return _error(exc.status, code, exc.reason)


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
