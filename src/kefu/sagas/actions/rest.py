"""``kind: rest``: one HTTP request with a JSON body to a department system's API.

Options: ``method`` (any: GET, POST, PUT, PATCH, DELETE…), ``path`` (a template under the
connection's ``base_url``), ``query`` and ``headers`` (text templates), ``body`` (a JSON
template: ``"{input.amount}"`` alone is the typed value), ``result`` (``{field: dotted
path}`` picked from the reply; the whole reply object when absent). The call sends
``Idempotency-Key: <saga id>:<step>:do|undo`` (the same on every attempt).

A 2xx answers the reply's JSON object (an array as ``{"items": [...]}``, an empty or
non-JSON body as ``{}``). Any other status is ``ActionFailed``: 5xx, 408, 429 retryable,
other 4xx not (see :mod:`kefu.sagas.actions._http`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.sagas.actions._http import HttpTarget, status_failure
from kefu.sagas.actions.base import ActionCall
from kefu.sagas.actions.templates import HeaderTemplates, JsonTemplate, PathTemplate, call_context
from kefu.unify.connectors._http import merge_headers
from kefu.unify.paths import DOTTED

log = logging.getLogger(__name__)

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class RestOptions(BaseModel):
    """What a ``rest`` action spec holds besides ``kind`` and its connection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = "POST"
    path: str = "/"
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    result: dict[str, str] = Field(default_factory=dict)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("result")
    @classmethod
    def _paths(cls, result: dict[str, str]) -> dict[str, str]:
        for path in result.values():
            DOTTED.getter(path)
        return result


class RestAction:
    """A configured REST call (an action or a compensation)."""

    kind = "rest"

    def __init__(self, options: RestOptions, target: HttpTarget) -> None:
        self._options = options
        self._target = target
        self._path = _at("path", PathTemplate, options.path)
        self._query = _at("query", lambda q: HeaderTemplates(q, headers=False), options.query)
        self._headers = _at("headers", lambda h: HeaderTemplates(h, headers=True), options.headers)
        self._body = None if options.body is None else _at("body", JsonTemplate, options.body)
        self._result = {name: DOTTED.getter(path) for name, path in options.result.items()}

    async def run(self, call: ActionCall) -> Mapping[str, Any]:
        context = call_context(call)
        defaults = {"Accept": "application/json"}
        content: bytes | None = None
        if self._body is not None:
            content = msgspec.json.encode(self._body.render(context))
            defaults["Content-Type"] = "application/json"
        headers = merge_headers(
            defaults, self._target.options.headers, self._headers.render(context)
        )
        reply = await self._target.send(
            call,
            self._options.method,
            self._path.render(context),
            params=self._query.render(context),
            headers=httpx.Headers(headers),
            content=content,
        )
        document = _json(reply.body)
        if not 200 <= reply.status < 300:
            code = document.get("error") or document.get("code")
            text = code if isinstance(code, str) else None
            raise status_failure(self._target.name, reply.status, text)
        if self._result:
            return {name: get(document) for name, get in self._result.items()}
        return document

    async def close(self) -> None:
        await self._target.close()


def _at(key: str, build: Any, value: Any) -> Any:
    """``build(value)``, its ``ValueError`` naming ``key``."""
    try:
        return build(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return {}
    if isinstance(document, dict):
        return document
    if isinstance(document, list):
        return {"items": document}
    return {"value": document}
