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

Limits (``QueryLimits``, from the source's ``max_rows`` and timeout): rows are read
through a server-side cursor, at most ``max_rows`` + 1 of them, so a query matching a
million rows never brings a million over the wire; the extra row only says the reply was
cut (``Rows.truncated``). PostgreSQL gives a cursor only inside a transaction, so there a
fetch costs a BEGIN and a ROLLBACK more. The server also stops a statement itself at the
source's timeout: ``statement_timeout`` as a startup parameter on PostgreSQL,
``max_statement_time`` (MariaDB) or ``max_execution_time`` (MySQL) set on each new
connection. SQLite, in-process, has no server to stop it; other backends get kefu's
deadline only.

The value is always bound as a string, and asyncpg refuses a string where PostgreSQL
expects an integer (even in ``CAST(:value AS integer)``, whose parameter PostgreSQL then
types as integer): write ``WHERE id = CAST(CAST(:value AS text) AS integer)`` (which
fails, as a ``SourceFailure``, on a value that is not a number) or compare as text. A query
cancelled by the deadline is stopped on PostgreSQL; on MySQL through this connector it
runs on until the server's statement timeout stops it, where the ``mysql`` connector
kills it at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.expression import text

from kefu.unify.connector import PathLanguage, QueryLimits, Rows, SourceFailure
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
DEFAULT_LIMITS = QueryLimits(max_rows=1000)
"""A client built without limits (a test, a tool) still reads a bounded reply."""
# The server's error when it stopped a statement at its timeout: PostgreSQL's SQLSTATE
# query_canceled, MariaDB's ER_STATEMENT_TIMEOUT, MySQL's ER_QUERY_TIMEOUT.
STATEMENT_TIMEOUT_CODES = frozenset({"57014", 1969, 3024})


def timeout_ms(seconds: float) -> int:
    """Whole milliseconds for a server setting, rounded up: never 0, which means "none"."""
    return max(1, math.ceil(seconds * 1000))


def mysql_timeout_statement(mariadb: bool, seconds: float) -> str:
    """The session setting that makes a MariaDB or MySQL server stop a long statement.

    The names differ (and each server refuses the other's): MariaDB's
    ``max_statement_time`` is in seconds and covers every statement; MySQL's
    ``max_execution_time`` is in milliseconds and covers read-only SELECTs, which is all
    a template may be.
    """
    if mariadb:
        return f"SET SESSION max_statement_time = {timeout_ms(seconds) / 1000:.3f}"
    return f"SET SESSION max_execution_time = {timeout_ms(seconds)}"


def _mysql_errno(error: BaseException) -> int | None:
    """A MySQL driver error's number (asyncmy, aiomysql: the first argument), else None."""
    code = error.args[0] if error.args else None
    return code if isinstance(code, int) else None


def server_error(error: BaseException) -> bool:
    """Whether a driver's error is the server refusing a statement (the connection is
    sound): a MySQL server error number (1000 and up; the client's own, such as a lost
    connection, are 2000-2999), or a PostgreSQL SQLSTATE."""
    errno = _mysql_errno(error)
    if errno is not None:
        return errno >= 1000 and not 2000 <= errno < 3000
    return bool(getattr(error, "sqlstate", None))


def stopped_by_timeout(error: BaseException | None) -> bool:
    """Whether a driver error is the server stopping a statement at its timeout."""
    if error is None:
        return False
    # MySQL errors carry a SQLSTATE too (70100, shared with KILL QUERY): the number decides.
    errno = _mysql_errno(error)
    code = errno if errno is not None else getattr(error, "sqlstate", None)
    return code in STATEMENT_TIMEOUT_CODES


def single_statement(query: str, name: str = "statement") -> str:
    """``query`` without its trailing ``;``; ``ValueError`` if it holds more than one
    statement (a ``;`` outside string literals and quoted names). Shared with the saga
    actions' write statements."""
    statement = query.strip()
    if statement.endswith(";"):
        statement = statement[:-1].rstrip()
    if ";" in _QUOTED.sub("''", statement):
        raise ValueError(f"{name} must be a single statement (no ';' except a trailing one)")
    if not statement:
        raise ValueError(f"{name} is empty")
    return statement


def read_statement(query: str) -> str:
    """Return ``query`` without its trailing ``;`` when it is one read using ``:value``.

    Raise ``ValueError`` naming what is wrong otherwise. This is a template written by
    an operator, checked once at start; the customer's value never reaches it.
    """
    statement = single_statement(query, "query")
    unquoted = _QUOTED.sub("''", statement)
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


def _engine_options(url: URL, pool_size: int, limits: QueryLimits) -> dict[str, Any]:
    """Pool, read-only and statement-timeout options the backend of ``url`` understands.

    ``AUTOCOMMIT`` spares each fetch a BEGIN and a ROLLBACK round trip where a cursor
    needs no transaction (all but PostgreSQL). The read-only setting and the statement
    timeout are made when a connection is opened, not per query, for the same reason.
    """
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}
    # SQLite in memory uses a pool without size options; a file uses a queue pool.
    dialect = cast("type[DefaultDialect]", url.get_dialect())  # every shipped dialect is one
    pool_class = dialect.get_pool_class(url)
    if issubclass(pool_class, QueuePool):
        # Department servers are someone else's: never more than pool_size connections.
        options.update(pool_size=pool_size, max_overflow=0, pool_recycle=3600)
    backend, driver = url.get_backend_name(), url.get_driver_name()
    pg_settings = {"default_transaction_read_only": "on"}
    if limits.statement_timeout is not None:
        pg_settings["statement_timeout"] = str(timeout_ms(limits.statement_timeout))
    if backend == "postgresql" and driver == "asyncpg":
        # Startup parameters: no round trip, and not undone by a rollback.
        options["connect_args"] = {"server_settings": pg_settings}
    elif backend == "postgresql" and driver == "psycopg":
        flags = " ".join(f"-c {name}={value}" for name, value in pg_settings.items())
        options["connect_args"] = {"options": flags}
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


def _mysql_statement_timeout(dialect: Any, seconds: float) -> Any:
    """A ``connect`` listener setting the statement timeout on each new MySQL/MariaDB
    connection, by the flavour SQLAlchemy found on the first one (its own first-connect
    check runs before this listener, so ``is_mariadb`` is known by then)."""

    def set_timeout(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(mysql_timeout_statement(bool(dialect.is_mariadb), seconds))
        finally:
            cursor.close()

    return set_timeout


class SqlClient:
    """A ``SourceClient`` over one SQLAlchemy async engine (one pool per source)."""

    def __init__(self, connection: Mapping[str, Any], *, limits: QueryLimits | None = None) -> None:
        self._options = SqlConnection.model_validate(connection)
        self.limits = limits or DEFAULT_LIMITS
        self._engine: AsyncEngine | None = None
        self._closed = False
        backend = make_url(self._options.url).get_backend_name()
        # PostgreSQL opens a cursor only inside a transaction (see the module docstring).
        self.cursor_needs_transaction = backend == "postgresql"
        # MySQL reads the rest of an unbuffered result to close it: a cut reply drops
        # the connection instead, and the server stops sending.
        self.drop_after_cut = backend in ("mysql", "mariadb")

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
            options = _engine_options(url, self._options.pool_size, self.limits)
            engine = create_async_engine(url, **options)
            backend = url.get_backend_name()
            if backend == "sqlite":
                event.listen(engine.sync_engine, "connect", _sqlite_read_only)
            elif backend in ("mysql", "mariadb") and self.limits.statement_timeout is not None:
                listener = _mysql_statement_timeout(engine.dialect, self.limits.statement_timeout)
                event.listen(engine.sync_engine, "connect", listener)
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

    async def run(self, value: str) -> Rows:
        """Fetch the rows for ``value``, at most ``max_rows`` of them.

        Cancellation mid-query (the caller's deadline) needs nothing here: SQLAlchemy
        invalidates a connection interrupted by a ``BaseException`` instead of returning
        it to the pool, so the next query gets a clean one.
        """
        params = {"value": require_text(value)}
        client = self._client
        try:
            async with client.engine().connect() as conn:
                if client.cursor_needs_transaction:
                    conn = await conn.execution_options(isolation_level="READ COMMITTED")
                return await self._read(conn, params)
        except DBAPIError as error:
            if error.connection_invalidated:
                raise  # the connection broke: the source did not answer
            if stopped_by_timeout(error.orig):
                seconds = client.limits.statement_timeout
                raise SourceFailure(
                    f"sql source: the server stopped the query at its statement timeout "
                    f"({seconds:g} s): {error.orig!r}"
                ) from error
            raise SourceFailure(f"sql source refused the query: {error.orig!r}") from error

    async def _read(self, conn: AsyncConnection, params: dict[str, str]) -> Rows:
        max_rows = self._client.limits.max_rows
        try:
            result = await conn.stream(self._statement, params)
            fetched = await result.mappings().fetchmany(max_rows + 1)
        except DBAPIError:
            raise
        except Exception as error:
            # Errors raised by a server-side cursor (asyncpg's, opening or fetching) reach
            # us as the driver raised them, untranslated: sort them the same way here.
            if not server_error(error):
                await conn.invalidate()  # the connection may be half-way through a reply
                raise
            if stopped_by_timeout(error):
                raise SourceFailure(
                    "sql source: the server stopped the query at its statement timeout "
                    f"({self._client.limits.statement_timeout:g} s): {error!r}"
                ) from error
            raise SourceFailure(f"sql source refused the query: {error!r}") from error
        rows = Rows((dict(row) for row in fetched[:max_rows]), truncated=len(fetched) > max_rows)
        if rows.truncated and self._client.drop_after_cut:
            await conn.invalidate()  # closing the result would read every remaining row
        else:
            await result.close()
        return rows
