"""The HTTP server: aiohttp owns the socket, serves ``/ws`` natively and hands every
other path to the FastAPI app through aiohttp-asgi.

Why two frameworks on one port: aiohttp measured leanest and fastest for WebSockets here
(14 KB per idle socket, ~2x uvicorn's relay rate; bench/README.md), while FastAPI gives
typed REST and OpenAPI. One host:port keeps CONTRACT.md's single origin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler, Middleware
from aiohttp_asgi import ASGIResource

from kefu.api.app import create_api
from kefu.chat.gateway import Gateway
from kefu.domain.customer_keys import CUSTOMER_KEY_RULE
from kefu.node import Node
from kefu.observability import metrics
from kefu.observability.failures import client_went_away, report_unexpected
from kefu.web import customer360, downloads, static, visitors
from kefu.web.cors import cors_headers, cors_middleware
from kefu.web.errors import json_error
from kefu.web.headers import security_headers

log = logging.getLogger(__name__)

# REST bodies are small JSON documents; a MiB bounds memory per request. Uploads
# (``UPLOAD_PATH``) get ``attachments.max_bytes`` instead.
MAX_REQUEST_BYTES = 1024 * 1024
UPLOAD_PATH = "/api/v1/attachments"
# The longest request target (path and query) and header line kefu reads: 8 KiB, what
# common proxies accept (nginx's large_client_header_buffers); longer ones are refused
# with JSON 414 / 431 (CONTRACT.md) by the middleware below.
MAX_URL_BYTES = 8192
MAX_HEADER_BYTES = 8192
# aiohttp's own parser limits, set above kefu's so that the middleware, not the parser,
# refuses what is over 8 KiB: the parser answers a text page quoting the start of the
# line. Beyond these (a client sending such lines on purpose) the parser still does.
# Headers get less room than the request line: aiohttp reads up to 128 of them, so a
# hostile request may hold 128 x 32 KiB = 4 MiB of a connection's memory (8190 bytes each
# before: 1 MiB).
PARSER_LINE_BYTES = 64 * 1024
PARSER_FIELD_BYTES = 32 * 1024


def create_app(node: Node) -> web.Application:
    upload_limit = node.settings.attachments.max_bytes
    app = web.Application(
        client_max_size=max(MAX_REQUEST_BYTES, upload_limit),
        middlewares=[cors_middleware(node.origins), _json_errors(upload_limit)],
        handler_args={"max_line_size": PARSER_LINE_BYTES, "max_field_size": PARSER_FIELD_BYTES},
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
    visitors.add_routes(app, node)
    api = create_api(node, native=(customer360.OPERATION, downloads.OPERATION, visitors.OPERATION))
    app.router.register_resource(ASGIResource(api, root_path="/"))

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
    # A plain function handing back one coroutine, as ``cors_middleware`` does: the
    # frames a middleware keeps live as long as the request, a WebSocket's whole life.
    @web.middleware
    def json_errors(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        return _contract_errors(request, handler, upload_limit)

    return json_errors


async def _contract_errors(
    request: web.Request, handler: Handler, upload_limit: int
) -> web.StreamResponse:
    """Every answer in the contract's shape, counted in ``kefu_http_requests_total``:
    aiohttp's own refusals (oversized URL, header or body, bad method on /ws) and any
    unexpected exception of a native route (FastAPI's are answered by its ``CatchAll``).
    One coroutine (no helper awaited around the handler), for the frame's sake."""
    response: web.StreamResponse | None = _refusal(request, upload_limit)
    if response is None:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect: aiohttp sends it
                _count(request.method, exc.status)
                raise
            code = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(
                exc.status, "bad_request"
            )
            response = json_error(exc.status, code, exc.reason)
        except Exception as exc:
            resource = request.match_info.route.resource
            template = resource.canonical if resource is not None else "(no route)"
            report_unexpected(f"{request.method} {template}", exc)
            if request.writer.output_size > 0 and not client_went_away(exc):
                raise  # the answer was under way: aiohttp can only drop the connection
            response = json_error(500, "internal_error", "the server failed")
    _count(request.method, response.status)
    return response


def _refusal(request: web.Request, upload_limit: int) -> web.Response | None:
    """Why the request is refused before any handler sees it, if it is."""
    if len(request.raw_path) > MAX_URL_BYTES:
        return json_error(414, "uri_too_long", f"URLs are limited to {MAX_URL_BYTES} bytes")
    for name, value in request.raw_headers:
        if len(name) + len(value) > MAX_HEADER_BYTES:
            return json_error(
                431, "headers_too_large", f"a header is limited to {MAX_HEADER_BYTES} bytes"
            )
    raw_target = (request.rel_url.raw_path + "?" + request.rel_url.raw_query_string).lower()
    if "%00" in raw_target or "\x00" in request.path:
        # PostgreSQL text cannot hold U+0000: an id or filter carrying it is bad input.
        if ("\x00" in request.path and customer360.PATH.fullmatch(request.path)) or any(
            "\x00" in key for key in request.query.getall("customer_key", ())
        ):
            return json_error(400, "bad_customer_key", CUSTOMER_KEY_RULE)
        return json_error(400, "bad_request", "the URL must not contain the NUL character")
    if request.path != "/ws":
        limit = upload_limit if request.path == UPLOAD_PATH else MAX_REQUEST_BYTES
        if request.content_length is not None and request.content_length > limit:
            return json_error(413, "too_large", f"request bodies are limited to {limit} bytes")
        if (
            request.path != UPLOAD_PATH
            and "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        ):
            # Bodies must declare their length so the limit above can hold. Uploads are
            # streamed to disk with the limit enforced as they arrive, so they may be chunked.
            return json_error(411, "length_required", "send a Content-Length header")
    return None


_COUNTERS: dict[tuple[str, int], Any] = {}


def _count(method: str, status: int) -> None:
    # ``labels()`` hashes and locks on every call; the children are few and reusable.
    child = _COUNTERS.get((method, status))
    if child is None:
        child = _COUNTERS[(method, status)] = metrics.HTTP_REQUESTS.labels(method, str(status))
    child.inc()
