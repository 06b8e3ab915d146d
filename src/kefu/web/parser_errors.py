"""JSON answers for requests aiohttp's HTTP parser refuses before any kefu code runs.

kefu's middleware refuses URLs and header lines over 8 KiB with the contract's JSON 414 /
431 (``kefu.server``), but only requests the parser accepted reach it. Past the parser's
own limits (``PARSER_LINE_BYTES``, ``PARSER_FIELD_BYTES``) and for malformed requests,
aiohttp answers from ``RequestHandler.handle_error``: a text page, and an ERROR log line
whose exception quotes the first 100 bytes of the offending line (a URL can hold a customer
key). This handler answers those with the contract's JSON body instead and logs the status
and the kind of refusal only.

aiohttp offers no public hook for it: the handler class is chosen in ``Server.__call__``
and the server is made in ``AppRunner._make_server``. ``JsonErrorAppRunner`` overrides the
latter, which is private API; ``tests/integration/test_parser_errors.py`` pins the
behaviour, so an aiohttp upgrade that moves it fails a test rather than going unnoticed.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from kefu.web.errors import json_error

log = logging.getLogger(__name__)


def parser_refusal(exc: BaseException | None, status: int, line_limit: int) -> web.Response:
    """The contract's answer for a request the parser refused, without quoting it."""
    if isinstance(exc, LineTooLong):
        # The request line and header lines have different limits (PARSER_LINE_BYTES is
        # larger), so the limit the parser reports says which of the two was too long.
        if len(exc.args) > 1 and exc.args[1] == line_limit:
            return json_error(414, "uri_too_long", "the request's URL is too long")
        return json_error(431, "headers_too_large", "a request header is too long")
    if isinstance(exc, BadHttpMessage) or status == 400:
        return json_error(400, "bad_request", "the request is not valid HTTP")
    return json_error(500, "internal_error", "internal error")


class JsonErrorRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, answering parser refusals in the contract's shape."""

    line_limit: int = 0

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # Part of a response went out already: no second one can follow.
            raise ConnectionError("response already started; cannot send the error answer")
        response = parser_refusal(exc, status, self.line_limit)
        # The exception's text quotes the refused line: type and status only.
        log.warning(
            "refused an HTTP request before routing: %d (%s)",
            response.status,
            type(exc).__name__ if exc is not None else "no exception",
        )
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    """``web.Server`` whose connections use ``JsonErrorRequestHandler``."""

    line_limit: int = 0

    def __call__(self) -> web.RequestHandler:
        handler = JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.line_limit = self.line_limit
        return handler


class JsonErrorAppRunner(web.AppRunner):
    """``web.AppRunner`` serving ``app`` with JSON answers for parser refusals."""

    def __init__(self, app: web.Application, *, line_limit: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._line_limit = line_limit

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        cast(_JsonErrorServer, server).line_limit = self._line_limit
        return server
