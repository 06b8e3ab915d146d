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
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_asgi import ASGIResource

from kefu.api.app import create_api
from kefu.chat.gateway import Gateway
from kefu.node import Node
from kefu.observability import metrics
from kefu.web import customer360, downloads, static
from kefu.web.cors import cors_headers, cors_middleware
from kefu.web.headers import security_headers

log = logging.getLogger(__name__)

# REST bodies are small JSON documents; a MiB bounds memory per request. Uploads
# (``UPLOAD_PATH``) get ``attachments.max_bytes`` instead.
MAX_REQUEST_BYTES = 1024 * 1024
UPLOAD_PATH = "/api/v1/attachments"


def create_app(node: Node) -> web.Application:
    upload_limit = node.settings.attachments.max_bytes
    app = web.Application(
        client_max_size=max(MAX_REQUEST_BYTES, upload_limit),
        middlewares=[cors_middleware(node.origins), _json_errors(upload_limit)],
    )
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(cors_headers(node.origins))
    gateway = Gateway(
        node.auth,
        node.chat,
        node.hub,
        node.repos.agents,
        node.blacklist,
        node.client_address,
        node.settings.websocket,
        node.origins,
    )
    app.router.add_get("/ws", gateway.handle)
    static.add_routes(app)  # before the catch-all API resource below
    downloads.add_routes(app, node)
    customer360.add_routes(app, node)
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


def _json_errors(upload_limit: int) -> Middleware:
    @web.middleware
    async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await _contract_errors(request, handler, upload_limit)

    return json_errors


async def _contract_errors(
    request: web.Request, handler: Handler, upload_limit: int
) -> web.StreamResponse:
    """aiohttp's own refusals (oversized body, bad method on /ws) in the contract's shape."""
    raw_target = (request.rel_url.raw_path + "?" + request.rel_url.raw_query_string).lower()
    if "%00" in raw_target or "\x00" in request.path:
        # PostgreSQL text cannot hold U+0000: an id or filter carrying it is bad input.
        return _error(400, "bad_request", "the URL must not contain the NUL character")
    if request.path != "/ws":
        limit = upload_limit if request.path == UPLOAD_PATH else MAX_REQUEST_BYTES
        if request.content_length is not None and request.content_length > limit:
            return _error(413, "too_large", f"request bodies are limited to {limit} bytes")
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            # Bodies must declare their length so the limit above can hold.
            return _error(411, "length_required", "send a Content-Length header")
    try:
        response: web.StreamResponse = await handler(request)
        _count(request.method, response.status)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status, "bad_request"
        )
        return _error(exc.status, code, exc.reason)


_COUNTERS: dict[tuple[str, int], Any] = {}


def _count(method: str, status: int) -> None:
    # ``labels()`` hashes and locks on every call; the children are few and reusable.
    child = _COUNTERS.get((method, status))
    if child is None:
        child = _COUNTERS[(method, status)] = metrics.HTTP_REQUESTS.labels(method, str(status))
    child.inc()


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"code": code, "message": message}}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
