"""Every non-2xx answer of the FastAPI routes in CONTRACT.md's shape, rendered by the REST
kernel (``kefu.api.kernel``) exactly as the native aiohttp routes render theirs.

No stack trace reaches a client: unexpected exceptions are logged with the route (never
the path, which may hold a customer key) and answered ``internal_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import Tag
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.api.kernel import JSON, error_headers, error_json, validation_answer
from kefu.errors import KefuError
from kefu.observability.failures import client_went_away, report_unexpected

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(error_json(code, message), status, headers=headers, media_type=JSON)


def branch(name: str) -> Tag:
    """The tag of one branch of a body that is one of several models (``Discriminator``).

    pydantic puts the tag in an error's location; ``field_path`` leaves it out, so the
    client reads the path of its own document (``events[2].type``), not the model's.
    """
    return Tag(f"<{name}>")


def install(app: FastAPI) -> None:
    @app.exception_handler(KefuError)
    async def _kefu(request: Request, exc: KefuError) -> Response:
        return error_response(exc.status, exc.code, exc.message, error_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(*validation_answer(exc.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    app.add_middleware(CatchAll)


class CatchAll:
    """Answer any unexpected exception with ``internal_error`` and swallow it.

    Starlette's catch-all exception handler re-raises after answering (so servers can log
    it); through aiohttp-asgi that re-raise closes the keep-alive connection and fails the
    client's next request. Handled here, the connection stays usable.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # The route's template, not the path: a path may hold a customer key.
            route = scope.get("route")
            template = getattr(route, "path", None) or "(no route)"
            report_unexpected(f"{scope.get('method')} {template}", exc)
            if not started and not client_went_away(exc):
                response = error_response(500, "internal_error", "the server failed")
                await response(scope, receive, send)
