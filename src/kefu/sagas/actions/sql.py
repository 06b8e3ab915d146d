"""``kind: sql``: statements (or a stored procedure) on a department's database, in one
transaction of their own.

Options: ``statement`` (one statement) or ``statements`` (a list, run in order in the
same transaction), e.g. ``UPDATE orders SET status = 'refunded' WHERE order_no =
:order_no`` or ``CALL refund_order(:order_no, :idempotency_key)``; ``params``
(``{bind: context path}``: ``{order_no: input.order_id}``; values bound typed, never
spliced into the text); ``ledger_table`` (optional: a table with a unique
``idempotency_key`` column; the key is inserted first in the same transaction, and a key
already there means the step was applied before: the transaction is rolled back and the
action answers ``{"replayed": true}``). ``:idempotency_key`` is always bound.

Connection: a ``source:`` whose connector is ``sql`` (any SQLAlchemy async URL) or
``mysql`` (its url or host/user/password/database, driven through SQLAlchemy's asyncmy
dialect in ``utf8mb4``), or the same options inline. Unlike the 360's reads, the session
is not read-only: this is the write side, and only what the statements say is written.

The answer: ``{"rowcount": n}`` plus the columns of the first row of the last statement
that returned rows (a procedure's SELECT, an ``INSERT … RETURNING``). Integrity errors,
a procedure's own ``SIGNAL``/``RAISE`` and other refusals are final; a lost connection,
a deadlock, a lock wait or serialization failure, a timeout are retried. Messages name
the error class and code only: a driver's text can quote the row's values.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Self, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import column, table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.expression import Insert, TextClause, text

from kefu.sagas.actions._http import validated
from kefu.sagas.actions.base import ActionCall, ActionFailed
from kefu.sagas.actions.templates import SqlParams, call_context
from kefu.unify.connectors.mysql import MySqlConnection
from kefu.unify.connectors.sql import SqlConnection, server_error, single_statement

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63})?$")
# MySQL: deadlock, lock wait timeout, statement timeouts, server shutting down.
_MYSQL_RETRY = frozenset({1205, 1213, 1969, 3024, 1053, 1927})
# PostgreSQL: serialization failure, deadlock, lock not available, query cancelled,
# admin shutdown, crash shutdown, cannot connect now.
_PG_RETRY = frozenset({"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03"})


class SqlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    statement: str | None = None
    statements: list[str] | None = Field(default=None, min_length=1, max_length=20)
    params: dict[str, str] = Field(default_factory=dict)
    ledger_table: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.statement is None) == (self.statements is None):
            raise ValueError("give statement or statements (a list), one of them")
        if self.ledger_table is not None and not _IDENTIFIER.match(self.ledger_table):
            raise ValueError("ledger_table must be a table name (letters, digits, _)")
        return self

    def texts(self) -> list[str]:
        if self.statement is not None:
            return [self.statement]
        return list(self.statements or [])


def engine_url(connector: str, connection: Mapping[str, Any]) -> tuple[URL, int]:
    """The SQLAlchemy URL and pool size of a ``sql`` or ``mysql`` connection."""
    if connector == "mysql":
        options = validated(MySqlConnection, connection, "connection.")
        target = options.target()
        url = URL.create(
            "mysql+asyncmy",
            username=target.user,
            password=target.password or None,
            host=target.host,
            port=target.port,
            database=target.database,
            query={"charset": "utf8mb4"},
        )
        return url, options.pool_size
    sql = validated(SqlConnection, connection, "connection.")
    url = make_url(sql.url)
    if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url, sql.pool_size


class SqlAction:
    kind = "sql"

    def __init__(self, options: SqlOptions, url: URL, pool_size: int, name: str) -> None:
        texts = []
        for index, statement in enumerate(options.texts()):
            key = "statement" if options.statement is not None else f"statements[{index}]"
            try:
                texts.append(single_statement(statement, key))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        try:
            self._params = SqlParams(texts, options.params)
        except ValueError as exc:
            raise ValueError(f"params: {exc}") from None
        self._statements: list[TextClause] = [text(t) for t in texts]
        self._ledger: Insert | None = None
        if options.ledger_table is not None:
            schema, _, name = options.ledger_table.rpartition(".")
            ledger = table(name, column("idempotency_key"), schema=schema or None)
            self._ledger = ledger.insert()
        self._url = url
        self._pool_size = pool_size
        self._name = name
        self._engine: AsyncEngine | None = None
        self._closed = False

    def _get_engine(self) -> AsyncEngine:
        if self._closed:
            raise RuntimeError("this sql action is closed")
        if self._engine is None:
            options: dict[str, Any] = {}
            dialect = cast("type[DefaultDialect]", self._url.get_dialect())
            if issubclass(dialect.get_pool_class(self._url), QueuePool):
                options.update(pool_size=self._pool_size, max_overflow=0, pool_recycle=3600)
            self._engine = create_async_engine(self._url, **options)
        return self._engine

    async def run(self, call: ActionCall) -> Mapping[str, Any]:
        context = call_context(call)
        values = self._params.values(context)
        try:
            async with asyncio.timeout(call.timeout):
                return await self._transaction(call.idempotency_key, values)
        except TimeoutError:
            raise ActionFailed(
                f"{self._name}: no answer within {call.timeout:g} s", retryable=True
            ) from None
        except _Replayed:
            return {"replayed": True}
        except DBAPIError as error:
            raise self._verdict(error) from None
        except OSError as error:
            raise ActionFailed(
                f"{self._name}: cannot reach the database ({type(error).__name__})",
                retryable=True,
            ) from None

    async def _transaction(self, key: str, values: dict[str, Any]) -> dict[str, Any]:
        rowcount = 0
        row: dict[str, Any] = {}
        async with self._get_engine().connect() as conn, conn.begin():
            if self._ledger is not None:
                try:
                    await conn.execute(self._ledger, {"idempotency_key": key})
                except IntegrityError:
                    raise _Replayed from None
            for statement in self._statements:
                result = await conn.execute(statement, values)
                if result.returns_rows:
                    first = result.mappings().first()
                    row = {} if first is None else {k: _plain(v) for k, v in first.items()}
                    result.close()
                elif result.rowcount is not None and result.rowcount > 0:
                    rowcount += result.rowcount
        return {"rowcount": rowcount} | row

    def _verdict(self, error: DBAPIError) -> ActionFailed:
        orig = error.orig
        errno = orig.args[0] if orig is not None and orig.args else None
        errno = errno if isinstance(errno, int) else None
        sqlstate = getattr(orig, "sqlstate", None)
        code = errno if errno is not None else sqlstate
        log.debug("%s: database error: %r", self._name, orig)
        shown = f"{self._name}: {type(error).__name__}" + (f" ({code})" if code else "")
        if isinstance(error, IntegrityError):
            return ActionFailed(shown, retryable=False)
        if error.connection_invalidated or _sqlite_busy(orig):
            return ActionFailed(shown, retryable=True)
        if errno is not None:  # MySQL/MariaDB: 2000-2999 are the client's (connection) errors
            return ActionFailed(shown, retryable=errno in _MYSQL_RETRY or 2000 <= errno < 3000)
        if isinstance(sqlstate, str):  # PostgreSQL: class 08 is "connection exception"
            return ActionFailed(shown, retryable=sqlstate in _PG_RETRY or sqlstate[:2] == "08")
        # No code: SQLite's refusals (final, but for "locked" above), or a driver's own
        # trouble reaching the server (worth another try).
        final = self._url.get_backend_name() == "sqlite" or server_error(orig or error)
        return ActionFailed(shown, retryable=not final)

    async def close(self) -> None:
        self._closed = True
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()


class _Replayed(Exception):
    """The ledger already holds the key: the step was applied by an earlier attempt."""


def _sqlite_busy(orig: BaseException | None) -> bool:
    text_of = str(orig).lower() if orig is not None else ""
    return "database is locked" in text_of or "database is busy" in text_of


def _plain(value: Any) -> Any:
    """A column value as JSON keeps it: money as exact text, times as ISO-8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value
