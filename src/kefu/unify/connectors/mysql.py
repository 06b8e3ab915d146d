"""MySQL/MariaDB source over asyncmy directly: the order database of the design.

Why not through SQLAlchemy like ``sql``: this is the hottest source of the 360 (orders,
on every conversation opened), and a bare asyncmy pool skips a layer per query.

The customer's value is passed as asyncmy's ``%(value)s`` parameter, which the driver
escapes for the connection's character set (always ``utf8mb4`` here: escaping in GBK or
Big5 is where MySQL injections through escaped strings come from) and for the server's
``NO_BACKSLASH_ESCAPES`` mode. asyncmy always negotiates multi-statement support, so the
"one statement" check of ``read_statement`` matters here, and every session is read-only
on the server behind it.

The value is a string, and MySQL compares a string with a number column by converting
it: ``'7x'`` equals 7 and ``' OR 1=1 --'`` equals 0. Keep customer keys in string
columns, or compare ``CAST(id AS CHAR) = :value``.

Limits (``QueryLimits``, from the source's ``max_rows`` and timeout): rows are read
unbuffered, at most ``max_rows`` + 1, so a query matching a million rows never brings
them all over; a reply that had more is cut (``Rows.truncated``), its connection closed
and its query killed rather than read to the end. The server stops a statement itself at
the source's timeout. Which setting does it depends on the server, found once per pool
(a first connection reads the version): MariaDB runs each query as
``SET STATEMENT max_statement_time=<s>, time_zone='+00:00' FOR <query>`` (no round trip
more), MySQL gets ``max_execution_time`` in the session of every pooled connection (its
per-query hint would have to be placed after the right SELECT of a template).

Time zones: sessions run in UTC, and ``TIMESTAMP`` values (instants) come back marked as
UTC; a ``DATETIME`` has no zone and comes back naive, for the mapping to read in the
source's ``timezone``.

Connection (the ``connection:`` mapping): either ``url`` (``mysql://user:pw@host:port/db``)
or ``host``, ``port`` (default 3306), ``user``, ``password``, ``database``; and
``pool_size`` (default 10), ``connect_timeout_seconds`` (default 5).
Request: ``query``, written with ``:value`` like every SQL template of kefu.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import asyncmy
from asyncmy.constants import FIELD_TYPE
from asyncmy.cursors import SSDictCursor
from asyncmy.errors import MySQLError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from kefu.unify.connector import PathLanguage, QueryLimits, Rows, SourceFailure
from kefu.unify.connectors.sql import (
    BIND,
    DEFAULT_LIMITS,
    read_statement,
    require_text,
    stopped_by_timeout,
    timeout_ms,
)
from kefu.unify.paths import DOTTED

log = logging.getLogger(__name__)

_READ_ONLY = "SET SESSION TRANSACTION READ ONLY"
_UTC = "'+00:00'"
"""The session time zone: a ``TIMESTAMP`` is an instant, and MySQL hands it out in the
session's zone (the server's ``SYSTEM`` by default). Read in UTC it is marked as UTC
(``_mark_instants``), so only ``DATETIME``s, which have no zone, take the source's
``timezone``."""
_CHARSET = "utf8mb4"
_POOL_RECYCLE_SECONDS = 3600
"""Reconnect an idle connection after an hour: well inside MySQL's default
``wait_timeout`` (8 h) and the idle cut-off of the usual proxies and firewalls, so a
pooled connection is seldom found dead by a customer's request."""


_MAX_KILLERS = 4
"""At most this many ``KILL QUERY`` connections at once per source. When a server is so
slow that every request misses its deadline, a connection per cancelled query would only
add to its load; past this bound a stopped query runs to its end on the server."""


def _server_refused(error: MySQLError) -> bool:
    """Whether the server answered with an error packet (the connection is still sound).

    MySQL numbers its server errors from 1000 and its client errors (lost connection,
    cannot connect) 2000-2999; asyncmy uses 0 for its own "not connected".
    """
    errno = error.args[0] if error.args else None
    return isinstance(errno, int) and errno >= 1000 and not 2000 <= errno < 3000


@dataclass(frozen=True, slots=True)
class _Target:
    host: str
    port: int
    user: str
    password: str
    database: str | None


class MySqlConnection(BaseModel):
    """The ``connection:`` options of a ``mysql`` source."""

    # The URL and password are secrets: keep them out of validation messages.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str | None = None
    host: str | None = None
    port: int = Field(default=3306, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    pool_size: int = Field(default=10, ge=1, le=1000)
    connect_timeout_seconds: float = Field(default=5.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _mysql_url(cls, url: str | None) -> str | None:
        if url is not None:
            _parse_url(url)
        return url

    @model_validator(mode="after")
    def _url_or_parts(self) -> Self:
        parts = {"host", "port", "user", "password", "database"} & self.model_fields_set
        if self.url is not None and parts:
            raise ValueError(f"give either url or {', '.join(sorted(parts))}, not both")
        if self.url is None and (self.host is None or self.user is None):
            raise ValueError("give url, or host and user (with password and database)")
        return self

    def target(self) -> _Target:
        """Where to connect, whichever way the options said it."""
        if self.url is not None:
            return _parse_url(self.url)
        if self.host is None or self.user is None:  # ruled out by _url_or_parts
            raise ValueError("host and user are required")
        password = self.password.get_secret_value() if self.password is not None else ""
        return _Target(self.host, self.port, self.user, password, self.database)


def _parse_url(url: str) -> _Target:
    """Read ``mysql://user:password@host:port/database`` (user and password %-encoded)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError("url must look like mysql://user:password@host:3306/database")
    if parts.query or parts.fragment:
        raise ValueError("url takes no ?options; use the connection keys instead")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError("url has a bad port") from None
    if not parts.hostname or not parts.username:
        raise ValueError("url needs a user and a host: mysql://user@host/database")
    database = unquote(parts.path.lstrip("/")) or None
    password = unquote(parts.password) if parts.password is not None else ""
    return _Target(parts.hostname, port, unquote(parts.username), password, database)


def session_settings(mariadb: bool, statement_timeout: float | None) -> tuple[str, str]:
    """(prefix of every query, ``init_command`` of every pooled connection).

    MariaDB runs each query as ``SET STATEMENT … FOR <query>`` (the statement timeout and
    the UTC time zone, no round trip more) in read-only sessions. MySQL sets both in the
    session: one statement, since ``init_command`` reads one result
    (``transaction_read_only`` is MySQL 5.7.20+).
    """
    if mariadb:
        settings = [f"time_zone={_UTC}"]
        if statement_timeout is not None:
            settings.insert(0, f"max_statement_time={timeout_ms(statement_timeout) / 1000:.3f}")
        return f"SET STATEMENT {', '.join(settings)} FOR ", _READ_ONLY
    command = f"SET SESSION transaction_read_only = ON, time_zone = {_UTC}"
    if statement_timeout is not None:
        command += f", max_execution_time = {timeout_ms(statement_timeout)}"
    return "", command


def _mark_instants(cursor: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``TIMESTAMP`` values (read in UTC, see ``_UTC``) as aware UTC datetimes, so the
    mapping does not read them in the source's ``timezone`` as it does ``DATETIME``s."""
    names = [column[0] for column in cursor.description or () if column[1] == FIELD_TYPE.TIMESTAMP]
    if names:
        for row in rows:
            for name in names:
                value = row.get(name)
                if isinstance(value, datetime) and value.tzinfo is None:
                    row[name] = value.replace(tzinfo=UTC)
    return rows


def to_pyformat(query: str) -> str:
    """Turn a ``:value`` template into asyncmy's pyformat: ``%`` doubled, binds named."""
    return BIND.sub(lambda m: f"%({m.group(1)})s", query.replace("%", "%%"))


class MySqlRequest(BaseModel):
    """One request template of a ``mysql`` source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str

    @field_validator("query")
    @classmethod
    def _one_read(cls, query: str) -> str:
        return read_statement(query)


class MySqlClient:
    """A ``SourceClient`` over one asyncmy pool, opened on the first query."""

    def __init__(self, connection: Mapping[str, Any], *, limits: QueryLimits | None = None) -> None:
        self._options = MySqlConnection.model_validate(connection)
        self._target = self._options.target()
        self.limits = limits or DEFAULT_LIMITS
        self._pool: asyncmy.Pool | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._killers: set[asyncio.Task[None]] = set()
        # Put before every query once the server is known to be MariaDB (see the module
        # docstring); empty for MySQL, whose sessions carry the timeout instead.
        self.statement_prefix = ""
        self.mariadb: bool | None = None  # None until the first connection said

    @property
    def paths(self) -> PathLanguage:
        return DOTTED

    def prepare(self, request: Mapping[str, Any]) -> MySqlPrepared:
        query = MySqlRequest.model_validate(request).query
        return MySqlPrepared(self, to_pyformat(query))

    async def pool(self) -> asyncmy.Pool:
        """The pool, created once by whichever request comes first."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._closed:
                raise RuntimeError("this mysql source client is closed")
            if self._pool is None:
                target = self._target
                self.mariadb = await self._is_mariadb()
                self.statement_prefix, init_command = session_settings(
                    self.mariadb, self.limits.statement_timeout
                )
                self._pool = await asyncmy.create_pool(
                    # minsize 0: no connection until a request needs one.
                    minsize=0,
                    maxsize=self._options.pool_size,
                    pool_recycle=_POOL_RECYCLE_SECONDS,
                    host=target.host,
                    port=target.port,
                    user=target.user,
                    password=target.password,
                    database=target.database,
                    charset=_CHARSET,
                    autocommit=True,
                    init_command=init_command,
                    connect_timeout=self._options.connect_timeout_seconds,
                )
            return self._pool

    async def _connect_plain(self) -> asyncmy.Connection:
        """A connection outside the pool (to read the version, to kill a query)."""
        target = self._target
        return await asyncmy.connect(
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            charset=_CHARSET,
            connect_timeout=self._options.connect_timeout_seconds,
        )

    async def _is_mariadb(self) -> bool:
        """Whether the server is MariaDB (its version says so: ``5.5.5-10.11.6-MariaDB``)."""
        conn = await self._connect_plain()
        try:
            return "mariadb" in str(conn.get_server_info()).lower()
        finally:
            conn.close()

    def kill_later(self, thread_id: int) -> None:
        """Stop, in the background, the query a cancelled request left running.

        Closing our end of the socket does not stop MySQL: a query runs to its end (a
        slow one is what missed the deadline) before the server notices the client has
        gone. ``KILL QUERY`` from a second connection of the same user stops it now.
        """
        if self._closed or len(self._killers) >= _MAX_KILLERS:
            return
        task = asyncio.get_running_loop().create_task(self._kill(thread_id))
        self._killers.add(task)
        task.add_done_callback(self._killers.discard)

    async def _kill(self, thread_id: int) -> None:
        try:
            conn = await self._connect_plain()
        except (MySQLError, OSError) as error:
            log.info("mysql source: cannot connect to stop thread %d: %r", thread_id, error)
            return
        try:
            await conn.cursor().execute(f"KILL QUERY {int(thread_id)}")
        except MySQLError as error:
            # 1094 "Unknown thread id": the query ended, and its connection with it.
            log.debug("mysql source: KILL QUERY %d: %r", thread_id, error)
        except BaseException:
            conn.close()
            raise
        await conn.ensure_closed()

    async def close(self) -> None:
        """Close every connection, in use or not: closing comes after the requests end."""
        async with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        killers = list(self._killers)
        for killer in killers:
            killer.cancel()
        await asyncio.gather(*killers, return_exceptions=True)
        if pool is not None:
            pool.terminate()
            await pool.wait_closed()


class MySqlPrepared:
    """A validated query of a ``mysql`` source, in asyncmy's pyformat."""

    def __init__(self, client: MySqlClient, query: str) -> None:
        self._client = client
        self._query = query

    async def run(self, value: str) -> Rows:
        """Fetch the rows for ``value``, at most ``max_rows`` of them.

        A connection interrupted mid-query (the caller's deadline cancelling us, a lost
        socket) has a reply still on its way: it is closed rather than returned to the
        pool, where the next request would read this one's rows; when the interruption
        was a cancellation, the server is also told to stop the query. So is a reply
        cut at ``max_rows``. A connection whose query the server refused (its statement
        timeout included) is in a clean state and goes back.
        """
        args = {"value": require_text(value)}
        client = self._client
        max_rows = client.limits.max_rows
        pool = await client.pool()
        conn = await pool.acquire()
        reusable = False
        try:
            cursor = conn.cursor(SSDictCursor)
            await cursor.execute(client.statement_prefix + self._query, args)
            fetched = _mark_instants(cursor, list(await cursor.fetchmany(max_rows + 1)))
            if len(fetched) > max_rows:
                client.kill_later(conn.thread_id())  # the rest is neither read nor sent
                return Rows(fetched[:max_rows], truncated=True)
            await cursor.close()  # the reply was read to its end: nothing is drained
            reusable = True
        except MySQLError as error:
            if not _server_refused(error):
                raise
            reusable = True
            if stopped_by_timeout(error):
                raise SourceFailure(
                    "mysql source: the server stopped the query at its statement timeout "
                    f"({client.limits.statement_timeout:g} s): {error!r}"
                ) from error
            raise SourceFailure(f"mysql source refused the query: {error!r}") from error
        except asyncio.CancelledError:
            client.kill_later(conn.thread_id())
            raise
        finally:
            if not reusable:
                conn.close()
            pool.release(conn)
        return Rows(fetched)
