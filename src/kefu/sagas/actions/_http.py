"""What the ``rest`` and ``soap`` actions share: the connection, the send, the verdict.

The connection is the 360 connectors' own (``HttpConnection`` and its pooled, capped,
redirect-refusing client from :mod:`kefu.unify.connectors._http`), so a ``source:``
entry means the same base URL, headers/auth and TLS settings for reads and writes.

Outcomes: a timeout, a refused or broken connection, 5xx, 408 and 429 may pass if tried
again (``retryable``); any other 4xx (and a redirect, which is not followed) is the
system's definite no.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.unify.connector import SOURCE_NAME, SourceFailure
from kefu.unify.connectors._http import HttpConnection, HttpReply, LazyHttpClient, fetch

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRYABLE_4XX = frozenset({408, 429})
# An error code from the system's JSON body ("already_refunded"), shown beside the
# status: a short token, never free text that could carry customer data.
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,47}$")


def one_line(error: ValidationError, prefix: str = "") -> str:
    """A pydantic error as ``key: reason`` (the first problem), for the engine to prefix."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or prefix.rstrip(".")
    if prefix and first["loc"]:
        location = prefix + location
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def validated(model: type[BaseModel], data: Mapping[str, Any], prefix: str = "") -> Any:
    """``model`` validated from ``data``; ``ValueError("key: reason")`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValueError(one_line(exc, prefix)) from None


class HttpTarget:
    """One action's connection: the options, a lazily built pooled client, a log name."""

    def __init__(self, options: HttpConnection, name: str) -> None:
        self.options = options
        self.name = name
        self.client = LazyHttpClient(options)

    async def send(
        self,
        call: ActionCall,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: httpx.Headers,
        content: bytes | None,
    ) -> HttpReply:
        """One request within the call's timeout; failures to get an answer retryable."""
        headers[IDEMPOTENCY_HEADER] = call.idempotency_key
        try:
            with _named(self.name):
                async with asyncio.timeout(call.timeout):
                    return await fetch(
                        self.client.get(),
                        method,
                        path,
                        max_bytes=self.options.max_response_bytes,
                        params=params,
                        headers=headers,
                        content=content,
                    )
        except TimeoutError:
            raise ActionFailed(
                f"{self.name}: no answer within {call.timeout:g} s", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise ActionFailed(
                f"{self.name}: cannot reach the system ({type(exc).__name__})", retryable=True
            ) from None
        except SourceFailure as exc:  # a reply over the size cap
            raise ActionFailed(f"{self.name}: {exc}", retryable=True) from None

    async def close(self) -> None:
        await self.client.aclose()


@contextlib.contextmanager
def _named(name: str) -> Iterator[None]:
    token = SOURCE_NAME.set(name)
    try:
        yield
    finally:
        SOURCE_NAME.reset(token)


def status_failure(name: str, status: int, code: str | None = None) -> ActionFailed:
    """The verdict on a reply that is not a 2xx."""
    shown = f"{name}: HTTP {status}" + (f" {code}" if code and _ERROR_CODE.match(code) else "")
    if 300 <= status < 400:
        return ActionFailed(f"{shown} (redirects are not followed)", retryable=False)
    retryable = status >= 500 or status in RETRYABLE_4XX
    return ActionFailed(shown, retryable=retryable)
