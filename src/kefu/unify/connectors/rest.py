"""REST/JSON department systems (a ticket tool, a shop API) over httpx.

The value reaches the source only as a percent-encoded path segment, an encoded query
parameter or a string inside a JSON body, so no customer key can change which resource
is asked for. A ``404`` means the source does not know the customer: the reply is
``None``, not a failure. Replies are dicts and lists, read with dotted paths.

Connection options: ``base_url``, ``headers``, ``max_response_bytes``, ``verify_tls``,
``max_connections``. Request options: ``method`` (GET|POST), ``path``, ``params``,
``json``, ``headers``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from pydantic import Field, field_validator, model_validator

from kefu.unify.connector import PathLanguage, SourceFailure
from kefu.unify.connectors._http import (
    PLACEHOLDER,
    HttpConnection,
    HttpRequestOptions,
    LazyHttpClient,
    fetch,
    fill_path,
    merge_headers,
)
from kefu.unify.paths import DOTTED


class RestConnection(HttpConnection):
    """The ``connection:`` options of a REST source (only the common HTTP ones)."""


def _substitute(document: Any, value: str) -> Any:
    """The JSON template with ``{value}`` replaced in every string (keys included).

    Literal replacement is safe here because the result is JSON-encoded afterwards: a
    quote or brace in the value stays inside its string.
    """
    if isinstance(document, str):
        return document.replace(PLACEHOLDER, value)
    if isinstance(document, Mapping):
        return {_substitute(key, value): _substitute(item, value) for key, item in document.items()}
    if isinstance(document, list | tuple):
        return [_substitute(item, value) for item in document]
    return document


class RestRequest(HttpRequestOptions):
    """A REST request template. ``json`` is the optional body (POST only)."""

    method: Literal["GET", "POST"] = "GET"
    # Named ``json`` in configuration; a field called ``json`` would shadow BaseModel.json.
    body: Any = Field(default=None, alias="json")

    @field_validator("body")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        if value is not None:
            try:
                msgspec.json.encode(_substitute(value, "x"))
            except (TypeError, msgspec.EncodeError) as exc:
                raise ValueError(f"json is not a JSON structure: {exc}") from None
        return value

    @model_validator(mode="after")
    def _body_needs_post(self) -> RestRequest:
        if self.body is not None and self.method != "POST":
            raise ValueError("a json body needs method: POST")
        return self


class RestPreparedRequest:
    """One validated REST template bound to its source's pool."""

    def __init__(self, client: RestClient, options: RestRequest) -> None:
        self._client = client
        self._options = options

    async def run(self, value: str) -> Any:
        options = self._options
        defaults = {"Accept": "application/json"}
        content: bytes | None = None
        if options.body is not None:
            content = msgspec.json.encode(_substitute(options.body, value))
            defaults["Content-Type"] = "application/json"
        headers = merge_headers(defaults, self._client.options.headers, options.headers)
        reply = await fetch(
            self._client.http.get(),
            options.method,
            fill_path(options.path, value),
            max_bytes=self._client.options.max_response_bytes,
            params=options.filled_params(value),
            headers=headers,
            content=content,
            want_body=lambda status: 200 <= status < 300,
        )
        if reply.status == 404:
            return None
        if not 200 <= reply.status < 300:
            raise SourceFailure(f"HTTP {reply.status}")
        if reply.status == 204:
            return None
        try:
            return msgspec.json.decode(reply.body)
        except msgspec.DecodeError:
            kind = reply.content_type.split(";")[0].strip() or "no content type"
            raise SourceFailure(f"reply is not JSON ({kind})") from None


class RestClient:
    """A REST/JSON source: one bounded httpx pool shared by all its request templates."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        self.options = RestConnection.model_validate(connection)
        self.http = LazyHttpClient(self.options)

    @property
    def paths(self) -> PathLanguage:
        return DOTTED

    def prepare(self, request: Mapping[str, Any]) -> RestPreparedRequest:
        return RestPreparedRequest(self, RestRequest.model_validate(request))

    async def close(self) -> None:
        await self.http.aclose()
