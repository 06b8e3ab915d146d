"""MongoDB source over pymongo's ``AsyncMongoClient``: the marketing CRM of the design.

A request is a ``find`` whose filter is a template: the customer's value goes in where a
string says ``{value}``, always as a string. That alone defeats operator injection (a
value ``{"$ne": null}`` is a 13-character string, which matches nothing), but a string is
not inert everywhere in a filter, so three places get more care:

- inside ``$expr`` a string starting with ``$`` is a field path (``"$email"`` equals
  every document's own email), so there the value is wrapped in ``{"$literal": …}``;
- inside a ``$regex`` (or the ``regex`` of ``$regexMatch`` …) the value is escaped, so
  ``.*`` is a dot and a star, not "everyone";
- ``$where``, ``$function`` and ``$accumulator`` run JavaScript on the server and are
  refused at ``prepare``, as is a key containing ``{value}`` (keys are never filled in).

Connection (the ``connection:`` mapping): ``url``, ``database``,
``server_selection_timeout_ms`` (default 2000), ``max_pool_size`` (default 50).
Request: ``collection``, ``filter``, ``projection``, ``sort`` (``[[field, 1 | -1], …]``),
``limit`` (default 50, at most 1000).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

from bson import Decimal128, ObjectId
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from kefu.unify.connector import PathLanguage, Rows, SourceFailure
from kefu.unify.paths import DOTTED

PLACEHOLDER = "{value}"

_JAVASCRIPT = frozenset({"$where", "$function", "$accumulator"})
_LITERAL = "$literal"
_REGEX_OPERATORS = frozenset({"$regexMatch", "$regexFind", "$regexFindAll"})


class MongoConnection(BaseModel):
    """The ``connection:`` options of a ``mongodb`` source."""

    # The URL may hold a password: keep it out of validation messages.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    database: str = Field(min_length=1)
    # Two seconds, not pymongo's thirty: past the 360's deadline an answer no longer
    # matters, and a quick "no server" frees the request sooner than a slow one.
    server_selection_timeout_ms: int = Field(default=2000, ge=1, le=600_000)
    max_pool_size: int = Field(default=50, ge=1, le=10_000)

    @field_validator("url")
    @classmethod
    def _mongo_url(cls, url: str) -> str:
        if not url.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("url must start with mongodb:// or mongodb+srv://")
        return url


class MongoRequest(BaseModel):
    """One request template of a ``mongodb`` source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collection: str = Field(min_length=1)
    filter: dict[str, Any]
    projection: dict[str, Any] | None = None
    sort: list[tuple[str, Literal[1, -1]]] = Field(default_factory=list)
    limit: int = Field(default=50, ge=1, le=1000)

    @field_validator("filter")
    @classmethod
    def _safe_template(cls, template: dict[str, Any]) -> dict[str, Any]:
        if not _check_template(template):
            raise ValueError(f"filter must use {PLACEHOLDER} somewhere in a value")
        return template


def _check_template(node: Any) -> bool:
    """Refuse unsafe keys anywhere in ``node``; tell whether a value uses the placeholder."""
    if isinstance(node, str):
        return PLACEHOLDER in node
    if isinstance(node, list):
        return any([_check_template(item) for item in node])
    if isinstance(node, dict):
        used = False
        for key, item in node.items():
            if not isinstance(key, str):
                raise ValueError(f"filter keys are strings, not {key!r}")
            if PLACEHOLDER in key:
                raise ValueError(f"filter key {key!r}: {PLACEHOLDER} is filled in values only")
            if key in _JAVASCRIPT:
                raise ValueError(f"filter operator {key} runs JavaScript on the server")
            used = _check_template(item) or used
        return used
    return False


Filler = Callable[[str], Any]
"""A compiled template: from the customer's value to the filter to send."""


def _compile(node: Any, *, in_expr: bool = False, regex: bool = False, key: str = "") -> Filler:
    """Compile a filter template into a function of the value, once at ``prepare``.

    ``in_expr``: under ``$expr``, where strings are aggregation expressions.
    ``regex``: the string is a regular expression, so the value is escaped into it.
    ``key``: the key ``node`` is the value of, to recognise ``$regexMatch``'s ``regex``.
    """
    if isinstance(node, str):
        if PLACEHOLDER not in node:
            return lambda _value: node
        whole = node == PLACEHOLDER

        def fill(value: str) -> Any:
            part = re.escape(value) if regex else value
            text = part if whole else node.replace(PLACEHOLDER, part)
            return {_LITERAL: text} if in_expr else text

        return fill
    if isinstance(node, list):
        items = [_compile(item, in_expr=in_expr, regex=regex, key=key) for item in node]
        return lambda value: [item(value) for item in items]
    if isinstance(node, dict):
        fields = [
            (
                name,
                _compile(
                    item,
                    in_expr=in_expr or name == "$expr",
                    regex=name == "$regex" or (name == "regex" and key in _REGEX_OPERATORS),
                    key=name,
                ),
            )
            for name, item in node.items()
        ]
        return lambda value: {name: item(value) for name, item in fields}
    return lambda _value: node


def _plain(value: Any) -> Any:
    """BSON-only types to plain Python: ObjectId to its hex string, Decimal128 to Decimal.

    The mapping layer knows str, int, Decimal and datetime; bytes and the rarer BSON types
    are left for it to refuse or convert.
    """
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Decimal128):
        decimal: Decimal = value.to_decimal()
        return decimal
    return value


class MongoClient:
    """A ``SourceClient`` over one ``AsyncMongoClient`` (its own pool), made on first use."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        self._options = MongoConnection.model_validate(connection)
        self._client: AsyncMongoClient[dict[str, Any]] | None = None
        self._closed = False

    @property
    def paths(self) -> PathLanguage:
        return DOTTED

    def prepare(self, request: Mapping[str, Any]) -> MongoPrepared:
        return MongoPrepared(self, MongoRequest.model_validate(request))

    def client(self) -> AsyncMongoClient[dict[str, Any]]:
        """The pymongo client, made on first use.

        Making it opens no socket (pymongo connects in the background on the first
        operation) and never awaits, so no two tasks can race here and no lock is needed.
        """
        if self._closed:
            raise RuntimeError("this mongodb source client is closed")
        if self._client is None:
            self._client = AsyncMongoClient(
                self._options.url,
                serverSelectionTimeoutMS=self._options.server_selection_timeout_ms,
                maxPoolSize=self._options.max_pool_size,
                # Aware datetimes (UTC): the mapping layer never guesses a zone.
                tz_aware=True,
                # So the CRM's operators can tell kefu's connections from others.
                appname="kefu",
            )
        return self._client

    @property
    def database(self) -> str:
        return self._options.database

    async def close(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.close()


class MongoPrepared:
    """A validated ``find`` of a ``mongodb`` source."""

    def __init__(self, client: MongoClient, request: MongoRequest) -> None:
        self._client = client
        self._request = request
        self._filter = _compile(request.filter)
        self._sort = list(request.sort) or None

    async def run(self, value: str) -> list[dict[str, Any]]:
        """Find the documents for ``value``, at most ``limit`` of them; one more is asked
        for, so a reply that had more says so (``Rows.truncated``, the source's status).

        The first batch is the whole answer (``batch_size=limit + 1``) unless it passes 16 MB,
        so a request is one round trip and a cancelled one seldom leaves a cursor open on
        the server. pymongo closes a connection interrupted mid-reply instead of
        returning it to its pool.
        """
        if not isinstance(value, str):
            raise TypeError(f"a source is queried with a string, not {type(value).__name__}")
        request = self._request
        collection = self._client.client()[self._client.database][request.collection]
        cursor = collection.find(
            self._filter(value),
            request.projection,
            sort=self._sort,
            limit=request.limit + 1,
            batch_size=request.limit + 1,
        )
        try:
            documents = await cursor.to_list()
        except OperationFailure as error:
            raise SourceFailure(f"mongodb source refused the query: {error}") from error
        return Rows(
            (_plain(document) for document in documents[: request.limit]),
            truncated=len(documents) > request.limit,
        )
