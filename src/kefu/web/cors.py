"""CORS for the widget: only the visitor endpoints, only for configured site origins.

The widget runs on the shop's origin and calls kefu's. Browsers first ask (preflight,
``OPTIONS``) because the calls carry ``Authorization``; kefu says yes only when the
``Origin`` belongs to a configured site (``sites[].origins``) and the path is one the
widget uses. Agent endpoints never answer CORS: the console is served by kefu itself.
Tokens travel in a header, never in cookies, so credentials are not allowed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kefu.auth.origins import OriginPolicy
from kefu.web.errors import json_error

# (method, path pattern) pairs the widget calls.
VISITOR_ENDPOINTS: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = (
    (frozenset({"POST"}), re.compile(r"^/api/v1/visitors$")),
    (frozenset({"GET"}), re.compile(r"^/api/v1/availability$")),
    (frozenset({"GET"}), re.compile(r"^/api/v1/widget-settings$")),
    (frozenset({"POST"}), re.compile(r"^/api/v1/attachments$")),
    (frozenset({"GET"}), re.compile(r"^/api/v1/attachments/[^/]+$")),
    (frozenset({"POST"}), re.compile(r"^/api/v1/offline-messages$")),
    (frozenset({"GET"}), re.compile(r"^/api/v1/conversations/[^/]+$")),
    (frozenset({"GET"}), re.compile(r"^/api/v1/conversations/[^/]+/messages$")),
    (frozenset({"POST"}), re.compile(r"^/api/v1/conversations/[^/]+/rating$")),
)
ALLOWED_HEADERS = "Authorization, Content-Type, X-Filename"
EXPOSED_HEADERS = "Content-Disposition, Retry-After"
# Browsers cache a preflight answer this long (Chromium caps it at 2 hours).
PREFLIGHT_MAX_AGE = "7200"


def _methods(path: str) -> frozenset[str] | None:
    for methods, pattern in VISITOR_ENDPOINTS:
        if pattern.match(path):
            return methods
    return None


def cors_middleware(policy: OriginPolicy) -> Middleware:
    """Answers preflights; ``cors_headers`` below labels the actual responses.

    A plain function handing back the handler's coroutine rather than a coroutine
    awaiting it: aiohttp awaits what a middleware returns, and a frame kept here would
    live as long as the request, which for a WebSocket is its whole life (issue 17: at
    most 20 KB per idle socket, 50,000 of them on one machine)."""

    @web.middleware
    def cors(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        origin = request.headers.get("Origin")
        if (
            origin is None
            or request.method != "OPTIONS"
            or "Access-Control-Request-Method" not in request.headers
        ):
            return handler(request)
        return _preflight(policy, request.path, origin)

    return cors


async def _preflight(policy: OriginPolicy, path: str, origin: str) -> web.StreamResponse:
    methods = _methods(path)
    if methods is None or not policy.cors_allows(origin):
        return _forbidden()
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(sorted(methods)),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        },
    )


def cors_headers(
    policy: OriginPolicy,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """``on_response_prepare`` hook: allow the configured origins to read the answer."""

    async def label(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if origin is None or _methods(request.path) is None:
            return
        if policy.cors_allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            response.headers["Vary"] = "Origin"

    return label


def _forbidden() -> web.Response:
    return json_error(
        403, "origin_not_allowed", "this origin is not a configured site of this kefu"
    )
