"""Error answers of the native aiohttp routes and middlewares, rendered by the REST kernel
(``kefu.api.kernel``) so they match the FastAPI routes' byte for byte."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from kefu.api.kernel import JSON, error_headers, error_json
from kefu.errors import KefuError


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=error_json(code, message), content_type=JSON, headers=headers
    )


def error_response(exc: KefuError) -> web.Response:
    """A ``KefuError`` as the contract answers it: its status, code, message and headers."""
    return json_error(exc.status, exc.code, exc.message, error_headers(exc))
