"""What the HTTP connectors (REST/JSON and XML/SOAP) share.

One pooled ``httpx.AsyncClient`` per configured source, built lazily so that building the
client from configuration does no I/O (loading the TLS trust store reads files); a reader
that stops at ``max_response_bytes`` so a runaway or hostile source cannot exhaust memory;
and the one way a customer value enters a URL path: percent-encoded as a single segment,
so ``../``, ``/``, ``?`` and ``#`` in a key can never reach another resource.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.unify.connector import SOURCE_NAME, SourceFailure

log = logging.getLogger(__name__)

PLACEHOLDER = "{value}"
"""The one placeholder of every template: replaced by the customer value, encoded safely."""

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 30.0

# RFC 9110 token characters for header names; values may not carry CR, LF or NUL, which
# would let a configured header smuggle a second one.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Refuse header names that are not tokens and values that could smuggle a header."""
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid HTTP header name")
        if _HEADER_VALUE_FORBIDDEN.search(value):
            raise ValueError(f"header {name!r} has a line break or NUL in its value")
    return headers


class HttpConnection(BaseModel):
    """The ``connection:`` options every HTTP connector accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    verify_tls: bool = True
    max_connections: int = Field(default=100, ge=1, le=10_000)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"base_url {value!r} is not a URL: {exc}") from None
        if url.scheme not in ("http", "https"):
            raise ValueError("base_url must be an http:// or https:// URL")
        if not url.host:
            raise ValueError("base_url has no host")
        if url.query or url.fragment:
            raise ValueError("base_url may not have a query or fragment (use params)")
        return value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value)


class HttpRequestOptions(BaseModel):
    """The request-template options every HTTP connector accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["GET", "POST"]
    path: str = "/"
    params: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _path_template(cls, value: str) -> str:
        check_path_template(value)
        return value

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value)

    def filled_params(self, value: str) -> dict[str, str]:
        """Query parameters with the value in place; httpx percent-encodes them."""
        return {name: text.replace(PLACEHOLDER, value) for name, text in self.params.items()}


def check_path_shape(template: str) -> None:
    """Refuse a path template that could escape the base URL.

    The path is relative to ``base_url`` (``//host`` would name another host), carries no
    query or fragment (those go in ``params`` where they are encoded) and has no
    ``.``/``..`` segment. Shared with the saga actions, whose placeholders differ.
    """
    if not template.startswith("/") or template.startswith("//"):
        raise ValueError(f"path {template!r} must start with a single '/'")
    if "?" in template or "#" in template:
        raise ValueError(f"path {template!r} may not contain '?' or '#': use params")
    if any(segment in (".", "..") for segment in template.split("/")):
        raise ValueError(f"path {template!r} may not contain '.' or '..' segments")


def check_path_template(template: str) -> None:
    """Refuse a path template that could escape the base URL or hide a second placeholder:
    ``check_path_shape``, and its only braces are ``{value}`` placeholders."""
    check_path_shape(template)
    if "{" in template.replace(PLACEHOLDER, "") or "}" in template.replace(PLACEHOLDER, ""):
        raise ValueError(f"path {template!r}: the only placeholder is {PLACEHOLDER}")


def encode_segment(value: str) -> str:
    """A value as (part of) one literal path segment: ``quote(value, safe="")`` encodes
    ``/``, ``?``, ``#`` and ``%``."""
    return quote(value, safe="")


def neutralise_dot_segments(path: str) -> str:
    """A filled path whose segments that are exactly ``.`` or ``..`` (which URL
    normalisation would remove) have their dots encoded as ``%2E``, which servers decode
    back to the literal value."""
    return "/".join(
        segment.replace(".", "%2E") if segment in (".", "..") else segment
        for segment in path.split("/")
    )


def fill_path(template: str, value: str) -> str:
    """The path with every ``{value}`` replaced by the value as one literal path segment.

    ``quote(value, safe="")`` encodes ``/``, ``?``, ``#`` and ``%``; a segment that would be
    exactly ``.`` or ``..`` (which URL normalisation removes) has its dots encoded as
    ``%2E``, which servers decode back to the literal key.
    """
    if PLACEHOLDER not in template:
        return template
    if not value:
        raise SourceFailure("an empty value cannot address a URL path")
    return neutralise_dot_segments(template.replace(PLACEHOLDER, encode_segment(value)))


def merge_headers(
    defaults: Mapping[str, str], connection: Mapping[str, str], request: Mapping[str, str]
) -> httpx.Headers:
    """The request's headers: a default only where neither configuration names it.

    Header names are case-insensitive, so a configured ``content-type`` replaces the
    default ``Content-Type`` instead of being sent beside it; the connection's headers
    are added by the pooled client itself.
    """
    configured = httpx.Headers(connection)
    configured.update(request)
    headers = httpx.Headers({name: v for name, v in defaults.items() if name not in configured})
    headers.update(request)
    return headers


class LazyHttpClient:
    """The source's pooled ``httpx.AsyncClient``, created on first use.

    Timeouts are a backstop (the caller enforces the real deadline by cancelling); the
    pool is bounded so one slow source cannot open unbounded sockets. Redirects are not
    followed: a department system that redirects is misconfigured, and following would
    let it point kefu anywhere.
    """

    def __init__(self, options: HttpConnection) -> None:
        self._options = options
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def get(self) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("the source's HTTP client is closed")
        if self._client is None:
            options = self._options
            self._client = httpx.AsyncClient(
                base_url=options.base_url,
                headers=options.headers,
                verify=options.verify_tls,
                timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
                limits=httpx.Limits(
                    max_connections=options.max_connections,
                    max_keepalive_connections=options.max_connections,
                ),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A finished reply: status, media type and (when wanted) the whole capped body."""

    status: int
    content_type: str
    body: bytes


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    max_bytes: int,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    want_body: Callable[[int], bool] = lambda status: True,
) -> HttpReply:
    """Send one request and read its body, refusing more than ``max_bytes`` of it.

    The body is streamed so the cap holds even when the source lies about (or omits)
    ``Content-Length``; it counts decoded bytes, so a compressed bomb is refused too. A
    status whose body is not wanted (``want_body`` false) is returned without reading it.
    """
    async with client.stream(
        method, path, params=params, headers=headers, content=content
    ) as response:
        # The source and the status, never the URL (kefu.observability.logs).
        log.info("source %s: HTTP %d", SOURCE_NAME.get(), response.status_code)
        content_type = response.headers.get("content-type", "")
        if not want_body(response.status_code):
            return HttpReply(response.status_code, content_type, b"")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise SourceFailure(f"reply of {declared} bytes is over the {max_bytes}-byte cap")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise SourceFailure(f"reply is over the {max_bytes}-byte cap")
            chunks.append(chunk)
        return HttpReply(response.status_code, content_type, b"".join(chunks))
