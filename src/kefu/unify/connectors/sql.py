"""Generic SQL source: any SQLAlchemy async URL (SQLite, PostgreSQL, MySQL/MariaDB, …).

A department's database is someone else's data, so the 360 only ever reads it, and it
reads it three times over: a template must be one SELECT (or WITH … SELECT) with the
customer's value as the bind parameter ``:value`` (checked once at ``prepare``), the
session is read-only on the server where the backend supports it (so a data-modifying
CTE or a function with side effects still cannot write), and nothing in the query text
ever comes from the request. ``read_statement`` is shared with the asyncmy connector.

Connection (the ``connection:`` mapping): ``url`` (an async SQLAlchemy URL such as
``sqlite+aiosqlite:///orders.db``, ``postgresql+asyncpg://user:pw@host/db``,
``mysql+asyncmy://user:pw@host/db``) and ``pool_size`` (default 10; the pool never
overflows it, so a department server sees at most that many connections per node; an
in-memory SQLite has no pool to size). Request: ``query``.

The value is always bound as a string, and asyncpg refuses a string where PostgreSQL
expects an integer (even in ``CAST(:value AS integer)``, whose parameter PostgreSQL then
types as integer): write ``WHERE id = CAST(CAST(:value AS text) AS integer)`` (which
fails, as a ``SourceFailure``, on a value that is not a number) or compare as text. A query
cancelled by the deadline is stopped on PostgreSQL; on MySQL through this connector it
runs to its end on the server, which the ``mysql`` connector does not let happen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import text

from kefu.unify.connector import PathLanguage, SourceFailure
from kefu.unify.paths import DOTTED

BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
"""A ``:name`` bind, by SQLAlchemy's own rule for ``text()``: not part of a ``::`` cast
and not escaped with a backslash. Both SQL connectors use it, so a template means the
same thing whichever of them runs it."""

_QUOTED = re.compile(r"'(?:''|[^'])*'|\"(?:\"\"|[^\"])*\"|`(?:``|[^`])*`")
"""String literals and quoted identifiers, blanked out before looking for statement
separators and write keywords, so ``WHERE note = 'a;b'`` or a column named ``"update"``
is not mistaken for a second statement or a write. This is a check for an operator's
mistakes, not a SQL parser (backslash escapes, which MySQL has and PostgreSQL has not,
are not understood): what actually keeps a template to one read is that the drivers run
one statement per call and that the session is read-only on the server."""

_WRITES = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|UPSERT|TRUNCATE|DROP|ALTER|CREATE|RENAME|GRANT|REVOKE|"
    r"CALL|EXEC|EXECUTE|DO|HANDLER|LOAD|COPY|LOCK|INTO)\b",
    re.IGNORECASE,
)
"""Words a read has no use for. ``WITH d AS (DELETE … RETURNING *) SELECT …`` starts like
a read in PostgreSQL, ``SELECT … INTO`` creates a table or a file, ``FOR UPDATE`` and
``LOCK IN SHARE MODE`` lock someone else's rows: all refused at start. Not ``SHARE``
(a fine column alias) nor ``REPLACE`` (a MySQL string function): a check that refuses
good templates is worse than none. The read-only session still stands behind it; the
check only makes a wrong template fail loudly and early."""

_READ_ONLY_SQLITE = "PRAGMA query_only = ON"
_READ_ONLY_MYSQL = "SET SESSION TRANSACTION READ ONLY"


def read_statement(query: str) -> str:
    """Return ``query`` without its trailing ``;`` when it is one read using ``:value``.

    Raise ``ValueError`` naming what is wrong otherwise. This is a template written by
    an operator, checked once at start; the customer's value never reaches it.
    """
    statement = query.strip()
    if statement.endswith(";"):
        statement = statement[:-1].rstrip()
    unquoted = _QUOTED.sub("''", statement)
    if ";" in unquoted:
        raise ValueError("query must be a single statement (no ';' except a trailing one)")
    first = re.match(r"\w+", statement)
    if first is None or first.group().upper() not in ("SELECT", "WITH"):
        raise ValueError("query must be a read: it starts with SELECT or WITH")
    write = _WRITES.search(unquoted)
    if write is not None:
        raise ValueError(f"query must only read; {write.group()!r} has no place in it")
    names = set(BIND.findall(statement))
    if "value" not in names:
        raise ValueError(
            "query must use the bind parameter :value (write CAST(:value AS …), not :value::type)"
        )
    others = sorted(names - {"value"})
    if others:
        raise ValueError(
            f"query binds only :value; {', '.join(':' + n for n in others)} would be unset"
        )
    return statement


def require_text(value: object) -> str:
    """Refuse a non-string value: every connector's safety argument assumes a string."""
    if not isinstance(value, str):
        raise TypeError(f"a source is queried with a string value, not {type(value).__name__}")
    return value


class SqlConnection(BaseModel):
    """The ``connection:`` options of a ``sql`` source."""

    # The URL may hold a password: keep it out of validation messages (and so logs).
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    pool_size: int = Field(default=10, ge=1, le=1000)

    @field_validator("url")
    @classmethod
    def _async_url(cls, url: str) -> str:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError("url is not a SQLAlchemy URL (dialect+driver://…)") from None
        try:
            dialect = parsed.get_dialect()
        except NoSuchModuleError:
            raise ValueError(f"url names an unknown dialect {parsed.drivername!r}") from None
        if not dialect.is_async:
            raise ValueError(
                f"{parsed.drivername!r} is not an async driver; use e.g. sqlite+aiosqlite, "
                "postgresql+asyncpg or mysql+asyncmy"
            )
        return url


class SqlRequest(BaseModel):
    """One request template of a ``sql`` source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str

    @field_validator("query")
    @classmethod
    def _one_read(cls, query: str) -> str:
        return read_statement(query)


def _engine_options(url: URL, pool_size: int) -> dict[str, Any]:
    """Pool and read-only options the backend of ``url`` understands.

    ``AUTOCOMMIT`` spares each fetch a BEGIN and a ROLLBACK round trip: a single read
    needs no transaction of its own. The read-only setting is made when a connection is
    opened, not per query, for the same reason.
    """
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
    # SQLite in memory uses a pool without size options; a file uses a queue pool.
    dialect = cast("type[DefaultDialect]", url.get_dialect())  # every shipped dialect is one
    pool_class = dialect.get_pool_class(url)
    if issubclass(pool_class, QueuePool):
        # Department servers are someone else's: never more than pool_size connections.
        options.update(pool_size=pool_size, max_overflow=0, pool_recycle=3600)
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "postgresql" and driver == "asyncpg":
        # A startup parameter: no round trip, and not undone by a rollback.
        options["connect_args"] = {"server_settings": {"default_transaction_read_only": "on"}}
    elif backend == "postgresql" and driver == "psycopg":
        options["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    elif backend in ("mysql", "mariadb"):
        # asyncmy and aiomysql both run init_command right after the handshake.
        options["connect_args"] = {"init_command": _READ_ONLY_MYSQL}
    return options


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    """Make every new SQLite connection refuse writes (``query_only``)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_READ_ONLY_SQLITE)
    finally:
        cursor.close()


class SqlClient:
    """A ``SourceClient`` over one SQLAlchemy async engine (one pool per source)."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        self._options = SqlConnection.model_validate(connection)
        self._engine: AsyncEngine | None = None
        self._closed = False

    @property
    def paths(self) -> PathLanguage:
        return DOTTED

    def prepare(self, request: Mapping[str, Any]) -> SqlPrepared:
        return SqlPrepared(self, text(SqlRequest.model_validate(request).query))

    def engine(self) -> AsyncEngine:
        """The engine, built on first use.

        Building an engine opens no connection and never awaits, so no two tasks can race
        here and no lock is needed; connections open on the first query.
        """
        if self._closed:
            raise RuntimeError("this sql source client is closed")
        if self._engine is None:
            url = make_url(self._options.url)
            engine = create_async_engine(url, **_engine_options(url, self._options.pool_size))
            if url.get_backend_name() == "sqlite":
                event.listen(engine.sync_engine, "connect", _sqlite_read_only)
            self._engine = engine
        return self._engine

    async def close(self) -> None:
        self._closed = True
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()


class SqlPrepared:
    """A validated query of a ``sql`` source; ``run`` binds the value as ``:value``."""

    def __init__(self, client: SqlClient, statement: TextClause) -> None:
        self._client = client
        self._statement = statement

    async def run(self, value: str) -> list[dict[str, Any]]:
        """Fetch every row for ``value``.

        Cancellation mid-query (the caller's deadline) needs nothing here: SQLAlchemy
        invalidates a connection interrupted by a ``BaseException`` instead of returning
        it to the pool, so the next query gets a clean one.
        """
        params = {"value": require_text(value)}
        try:
            async with self._client.engine().connect() as conn:
                result = await conn.execute(self._statement, params)
                return [dict(row) for row in result.mappings()]
        except DBAPIError as error:
            if error.connection_invalidated:
                raise  # the connection broke: the source did not answer
            raise SourceFailure(f"sql source refused the query: {error.orig!r}") from error
