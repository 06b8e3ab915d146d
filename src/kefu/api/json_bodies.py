"""Refuse JSON bodies whose text no store can hold, before any route reads them.

Python's ``json.loads`` (what FastAPI parses bodies with) accepts an escaped lone
surrogate (``"\\ud800"``) and, from bytes, UTF-8-encoded surrogates: the string it
returns cannot be encoded again, so the request failed later, in the store or the event
log, as a 500. JSON (RFC 8259) and UTF-8 exclude both; here they are 400
``invalid_json`` on every JSON route alike, as any other invalid JSON is.

Cheap on the common path: a body is decoded as strict UTF-8 only when it is not ASCII,
and parsed a second time (by pydantic-core, which refuses lone surrogates) only when it
contains a ``\\uD800``-``\\uDFFF`` escape at all; emoji sent as surrogate pairs pass.
"""

from __future__ import annotations

import re

import pydantic_core
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.api.errors import error_response

# An escaped UTF-16 surrogate (paired or not, or after an escaped backslash): only then
# is the full check needed.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def text_problem(body: bytes) -> str | None:
    """Why ``body`` is not JSON text a store can keep, or None."""
    if not body.isascii():
        try:
            body.decode("utf-8")  # strict: refuses invalid bytes and encoded surrogates
        except UnicodeDecodeError:
            return "the body is not valid UTF-8"
    if _SURROGATE_ESCAPE.search(body) is None:
        return None
    try:
        pydantic_core.from_json(body)
    except ValueError:
        return "the body is not valid JSON (a lone UTF-16 surrogate escape?)"
    return None


def _is_json(headers: Headers) -> bool:
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class StrictJsonText:
    """ASGI middleware: reads a JSON request's body, checks it, replays it to the app.

    Only JSON bodies are read ahead (the REST limit of 1 MiB holds them); uploads and
    other raw bodies stream through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not _is_json(Headers(scope=scope))
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = text_problem(body)
        if problem is not None:
            await error_response(400, "invalid_json", problem)(scope, receive, send)
            return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first answers ``messages``, then defers to the real one."""
    pending = list(messages)

    async def replaying() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying
