"""The small interfaces a department-system connector implements.

A configured source owns one ``SourceClient`` (its connection pool). At start the client
*prepares* each request template of the configuration (the 360 fetch, each lookup),
which validates it once, so a wrong template fails the start and never a request.
Requests return the source's reply in its own shape (rows, documents, an XML tree); the
``PathLanguage`` of the connector is how a mapping reads fields out of that shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

# The configured name of the source a request is made for, set by whoever runs it (the
# 360's ``Source``, a lookup): connectors name it in their log lines (``source crm: HTTP
# 200``) instead of the URL, which may hold the customer's key, phone or email.
SOURCE_NAME: ContextVar[str] = ContextVar("kefu_source_name", default="(unnamed)")


class SourceFailure(Exception):
    """The source answered, but not with data (HTTP 5xx, a SOAP fault, a hostile document).

    The message is for logs and metrics only: clients see the source's status, never this.
    """


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """What a query-running connector (``sql``, ``mysql``) enforces on every request.

    ``max_rows``: rows read at most; one more is asked for, and its presence means the
    reply was cut (``Rows.truncated``). ``statement_timeout``: seconds the database
    server may spend on one statement before it stops it itself (None: no server-side
    limit), so a query cut off by kefu's deadline does not run on without it.
    """

    max_rows: int
    statement_timeout: float | None = None


class Rows(list[dict[str, Any]]):
    """The rows of a SQL reply, and whether the source had more than ``max_rows``.

    A list, so mappings and selectors read it like any reply; ``truncated`` travels with
    it to the source's status (``sources.<name>.truncated``) where an agent can see that
    the 360 shows the first ``max_rows`` rows only.
    """

    __slots__ = ("truncated",)

    def __init__(self, rows: Iterable[dict[str, Any]] = (), *, truncated: bool = False) -> None:
        super().__init__(rows)
        self.truncated = truncated


class PathLanguage(Protocol):
    """How field paths in a mapping address a reply of this connector."""

    def getter(self, path: str) -> Callable[[Any], Any]:
        """Compile ``path`` into a function from one record to its value (None if absent).

        Raise ``ValueError`` with a readable reason when the path is malformed.
        """
        ...

    def selector(self, path: str | None) -> Callable[[Any], list[Any]]:
        """Compile ``path`` into a function from a reply (or record) to a list of records.

        ``None`` selects the reply itself: every row of a result set, or the one document.
        """
        ...

    def fields(self, record: Any) -> dict[str, Any]:
        """Every field of a record, by top-level name (what ``extensions`` is built from)."""
        ...

    def head(self, path: str) -> str:
        """The top-level field name a path reads, so mapped fields leave the extensions."""
        ...


class PreparedRequest(Protocol):
    """One validated request template, bound to its client."""

    async def run(self, value: str) -> Any:
        """Ask the source with ``value`` substituted safely; return the raw reply.

        ``value`` (a customer key, an email, an order number) is only ever passed as a
        bound parameter, a literal document value or an escaped text: never spliced
        into query syntax. Raise ``SourceFailure`` when the source answers with an error.
        """
        ...


class SourceClient(Protocol):
    """A connection to one department system, shared by every request template of it."""

    @property
    def paths(self) -> PathLanguage: ...

    def prepare(self, request: Mapping[str, Any]) -> PreparedRequest:
        """Validate a request template; raise ``ValueError`` (via pydantic) when it is wrong."""
        ...

    async def close(self) -> None: ...


ClientFactory = Callable[[Mapping[str, Any]], SourceClient]
"""Builds a client from the source's ``connection:`` mapping; raises ``ValueError`` on bad
options. Building must not do I/O: connections open lazily on the first request."""
