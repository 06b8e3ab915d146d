"""Row caps and server-side statement timeouts of the SQL connectors, on real servers.

PostgreSQL and MariaDB run on the machine (DESIGN.md, "Test services"); SQLite is a file.
Each test makes its own uniquely named table and drops it. A reply over ``max_rows`` is
cut and says so, up to the 360's JSON; a statement over the source's timeout is stopped
by the server itself (its error code, and the query gone from the server's process list
the moment the call returns), and the pool serves the next request.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import msgspec
import pytest

from kefu.cache.memory import MemoryCache
from kefu.clock import SystemClock
from kefu.config import load_settings
from kefu.errors import ConfigError
from kefu.unify.build import build_customer360
from kefu.unify.connector import QueryLimits, Rows, SourceFailure
from kefu.unify.connectors.mysql import MySqlClient
from kefu.unify.connectors.registry import open_client
from kefu.unify.connectors.sql import SqlClient
from kefu.unify.settings import SourceSettings
from kefu.unify.source import State

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MYSQL_PARTS = {"host": "127.0.0.1", "port": 3306, "user": "root", "database": "test"}
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
MARIADB_SA_URL = "mysql+asyncmy://root@127.0.0.1:3306/test"
ROWS = 5000  # rows of customer c-1 in every generated table
SHORT = 0.3  # seconds: a statement timeout far below the 5 s sleeps


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


@dataclass
class Table:
    backend: str  # postgresql | mariadb | sqlite
    name: str
    sql_url: str  # for the ``sql`` connector


async def _pg(statement: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _mariadb(statement: str) -> list[tuple[Any, ...]]:
    conn = await asyncmy.connect(**MYSQL_PARTS, autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(statement)
            return list(await cursor.fetchall())
    finally:
        await conn.ensure_closed()


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
async def table(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Table]:
    """``ROWS`` orders of customer ``c-1`` numbered 1…ROWS, and one of ``c-2``."""
    name = unique("kefu_many")
    if request.param == "postgresql":
        await _pg(
            f"CREATE TABLE {name} AS SELECT 'c-1'::text AS customer, n"
            f" FROM generate_series(1, {ROWS}) AS n UNION ALL SELECT 'c-2', 1"
        )
        yield Table("postgresql", name, PG_URL)
        await _pg(f"DROP TABLE IF EXISTS {name}")
    elif request.param == "mariadb":
        await _mariadb(
            f"CREATE TABLE {name} AS SELECT CAST('c-1' AS CHAR(8)) AS customer, seq AS n"
            f" FROM seq_1_to_{ROWS} UNION ALL SELECT 'c-2', 1"
        )
        yield Table("mariadb", name, MARIADB_SA_URL)
        await _mariadb(f"DROP TABLE IF EXISTS {name}")
    else:
        path = tmp_path / "department.db"
        with sqlite3.connect(path) as db:
            db.execute(
                f"CREATE TABLE {name} AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL"
                f" SELECT n + 1 FROM c WHERE n < {ROWS}) SELECT 'c-1' AS customer, n FROM c"
            )
            db.execute(f"INSERT INTO {name} VALUES ('c-2', 1)")
        yield Table("sqlite", name, f"sqlite+aiosqlite:///{path}")


def clients(table: Table, limits: QueryLimits) -> list[SqlClient | MySqlClient]:
    """Every connector that can read ``table``: ``sql``, and ``mysql`` for MariaDB."""
    found: list[SqlClient | MySqlClient] = [
        SqlClient({"url": table.sql_url, "pool_size": 1}, limits=limits)
    ]
    if table.backend == "mariadb":
        found.append(MySqlClient({"url": MYSQL_URL, "pool_size": 1}, limits=limits))
    return found


async def test_a_reply_over_max_rows_is_cut_and_says_so(table: Table) -> None:
    for client in clients(table, QueryLimits(max_rows=100, statement_timeout=5.0)):
        try:
            many = client.prepare(
                {"query": f"SELECT n FROM {table.name} WHERE customer = :value ORDER BY n"}
            )
            rows = await many.run("c-1")
            assert isinstance(rows, Rows)
            assert rows.truncated
            assert rows == [{"n": n} for n in range(1, 101)]  # the first, by ORDER BY
            # The one connection of the pool serves the next request, complete.
            one = await asyncio.wait_for(many.run("c-2"), 5)
            assert one == [{"n": 1}] and not one.truncated
            again = await asyncio.wait_for(many.run("c-1"), 5)
            assert again.truncated and len(again) == 100
        finally:
            await client.close()


async def test_exactly_max_rows_is_not_truncated(table: Table) -> None:
    for client in clients(table, QueryLimits(max_rows=ROWS)):
        try:
            every = client.prepare(
                {"query": f"SELECT n FROM {table.name} WHERE customer = :value ORDER BY n"}
            )
            rows = await every.run("c-1")
            assert len(rows) == ROWS and not rows.truncated
            assert await every.run("c-2") == [{"n": 1}]
        finally:
            await client.close()


async def test_default_cap_is_a_thousand_rows(table: Table) -> None:
    client = SqlClient({"url": table.sql_url})
    try:
        many = client.prepare({"query": f"SELECT n FROM {table.name} WHERE customer = :value"})
        rows = await many.run("c-1")
        assert len(rows) == 1000 and rows.truncated
    finally:
        await client.close()


# --- statement timeouts, stopped by the server ---------------------------------------------


async def pg_running(marker: str) -> int:
    conn = await asyncpg.connect(PG_DSN)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
            " AND query LIKE $1",
            f"%{marker}%",
        )
        return int(count)
    finally:
        await conn.close()


async def mariadb_running(marker: str) -> int:
    [(count,)] = await _mariadb(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
        f" WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
    )
    return int(count)


async def stopped(run: Awaitable[Any]) -> SourceFailure:
    """The source failure of ``run``; a test deadline above the timeout but under the sleep
    fails the test if the server let the statement sleep on."""
    with pytest.raises(SourceFailure, match="statement timeout") as failure:
        await asyncio.wait_for(run, 4)
    return failure.value


async def test_postgresql_stops_a_long_statement_itself() -> None:
    client = SqlClient({"url": PG_URL, "pool_size": 1}, limits=QueryLimits(10, SHORT))
    marker = unique("slow")
    try:
        # The marker is in the query text, so pg_stat_activity can find this statement.
        slow = client.prepare(
            {"query": f"SELECT CAST(:value AS text) AS v, pg_sleep(5) AS {marker}"}
        )
        failure = await stopped(slow.run("c-1"))
        cause = failure.__cause__
        assert getattr(cause, "sqlstate", None) == "57014"  # query_canceled, and why:
        assert "canceling statement due to statement timeout" in str(cause)
        assert await pg_running(marker) == 0
        echo = client.prepare({"query": "SELECT CAST(:value AS text) AS v"})
        assert await asyncio.wait_for(echo.run("after"), 2) == [{"v": "after"}]
        # The next statement has the whole timeout again: a short one is not cut.
        nap = client.prepare({"query": "SELECT CAST(:value AS text) AS v, pg_sleep(0.05) AS z"})
        assert (await nap.run("x"))[0]["v"] == "x"
    finally:
        await client.close()


MARIADB_SLEEPS: list[tuple[str, Callable[[], SqlClient | MySqlClient]]] = [
    (
        "mysql",
        lambda: MySqlClient({"url": MYSQL_URL, "pool_size": 1}, limits=QueryLimits(10, SHORT)),
    ),
    (
        "sql",
        lambda: SqlClient({"url": MARIADB_SA_URL, "pool_size": 1}, limits=QueryLimits(10, SHORT)),
    ),
]


@pytest.mark.parametrize(("connector", "make"), MARIADB_SLEEPS, ids=[c for c, _ in MARIADB_SLEEPS])
async def test_mariadb_stops_a_long_statement_itself(
    connector: str, make: Callable[[], SqlClient | MySqlClient]
) -> None:
    client = make()
    marker = unique("slow")
    try:
        slow = client.prepare({"query": f"SELECT :value AS v, SLEEP(5) AS {marker}"})
        failure = await stopped(slow.run("c-1"))
        cause = failure.__cause__
        assert cause is not None
        errno = getattr(cause, "orig", cause).args[0]
        assert errno == 1969  # ER_STATEMENT_TIMEOUT: max_statement_time exceeded
        assert await mariadb_running(marker) == 0
        if isinstance(client, MySqlClient):
            assert client.mariadb is True
        echo = client.prepare({"query": "SELECT :value AS v"})
        assert await asyncio.wait_for(echo.run("after"), 2) == [{"v": "after"}]
        nap = client.prepare({"query": "SELECT :value AS v, SLEEP(0.05) AS z"})
        assert (await nap.run("x"))[0]["v"] == "x"
    finally:
        await client.close()


async def test_the_timeout_follows_the_sources_timeout_ms() -> None:
    """build -> QueryLimits: the source's own timeout_ms, or the 360's deadline."""
    settings = SourceSettings.model_validate(
        {
            "connector": "mysql",
            "connection": {"url": MYSQL_URL, "pool_size": 1},
            "request": {"query": "SELECT :value AS v, SLEEP(5) AS z"},
            "map": {"customer": {"name": "v"}},
            "timeout_ms": 250,
            "max_rows": 7,
        }
    )
    customers = await build_customer360(
        {"slow": settings}, load_settings(None).customer360, MemoryCache(), SystemClock()
    )
    try:
        [source] = customers.sources
        assert isinstance(source.client, MySqlClient)
        assert source.client.limits == QueryLimits(max_rows=7, statement_timeout=0.25)
        view = await customers.unified("c-1")
        assert view.answers["slow"].state in (State.STATE_TIMEOUT, State.STATE_ERROR)
    finally:
        await customers.close()
    without = settings.model_copy(update={"timeout_ms": None})
    client = open_client("mysql", without.connection, QueryLimits(7, without.fetch_timeout(800)))
    assert isinstance(client, MySqlClient)
    assert client.limits.statement_timeout == 0.8
    await client.close()


# --- through the 360 -----------------------------------------------------------------------


async def test_the_360_says_a_source_was_truncated() -> None:
    name = unique("kefu_orders")
    await _pg(
        f"CREATE TABLE {name} AS SELECT 'c-1'::text AS customer, 'o-' || n AS order_no, n"
        " FROM generate_series(1, 50) AS n"
    )
    sources = {
        "orders": SourceSettings.model_validate(
            {
                "connector": "sql",
                "connection": {"url": PG_URL, "pool_size": 2},
                "request": {
                    "query": f"SELECT order_no FROM {name} WHERE customer = :value ORDER BY n"
                },
                "map": {"orders": {"id": "order_no"}},
                "max_rows": 3,
            }
        ),
        "all_orders": SourceSettings.model_validate(
            {
                "connector": "sql",
                "connection": {"url": PG_URL, "pool_size": 2},
                "request": {"query": f"SELECT order_no FROM {name} WHERE customer = :value"},
                "map": {"orders": {"id": "order_no"}, "extensions": False},
            }
        ),
    }
    customers = await build_customer360(
        sources,
        load_settings(None).customer360.model_copy(update={"deadline_ms": 5000}),
        MemoryCache(),
        SystemClock(),
    )
    try:
        first = msgspec.json.decode(customers_json(await customers.unified("c-1")))
        assert first["sources"]["orders"]["status"] == "ok"
        assert first["sources"]["orders"]["truncated"] is True
        assert first["sources"]["all_orders"]["truncated"] is False
        assert len(first["orders"]) == 3 + 50
        message = (await customers.unified("c-1", refresh=True)).message()
        assert message.sources["orders"].truncated
        assert not message.sources["all_orders"].truncated
        # Served from the cache, it still says so.
        cached = msgspec.json.decode(customers_json(await customers.unified("c-1")))
        assert cached["sources"]["orders"] == cached["sources"]["orders"] | {
            "status": "cached",
            "truncated": True,
        }
    finally:
        await customers.close()
        await _pg(f"DROP TABLE IF EXISTS {name}")


def customers_json(view: Any) -> bytes:
    body: bytes = view.json()
    return body


# --- settings ------------------------------------------------------------------------------

ORDERS = {
    "connector": "mysql",
    "connection": {"url": MYSQL_URL},
    "request": {"query": "SELECT sku FROM orders WHERE customer = :value"},
    "map": {"orders": {"id": "sku"}},
}


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"max_rows": 0}, "sources.orders.max_rows: Input should be greater than or equal to 1"),
        ({"max_rows": -5}, "sources.orders.max_rows: Input should be greater than or equal to 1"),
        ({"max_rows": 1_000_000}, "sources.orders.max_rows: Input should be less than or equal"),
        ({"timeout_ms": 0}, "sources.orders.timeout_ms: Input should be greater than 0"),
        ({"timeout_ms": -1}, "sources.orders.timeout_ms: Input should be greater than 0"),
        (
            {"connector": "rest", "connection": {}, "max_rows": 10},
            "sources.orders: max_rows applies to mysql and sql sources, not to rest",
        ),
    ],
)
def test_bad_limits_fail_at_start_naming_the_key(change: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, sources={"orders": ORDERS | change})
    assert str(refused.value).startswith(f"config error: {line}")
    assert "\n" not in str(refused.value)


def test_max_rows_defaults_to_a_thousand() -> None:
    settings = load_settings(None, sources={"orders": ORDERS})
    assert settings.sources["orders"].max_rows == 1000
