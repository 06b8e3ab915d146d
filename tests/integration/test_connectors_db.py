"""The database connectors of the customer 360 against real servers.

SecantusDB speaks MongoDB's protocol on 27117, MariaDB and PostgreSQL run on the machine
(see DESIGN.md, "Test services"), SQLite is a file in the test's directory. Every test
makes its own uniquely named tables or collections and drops them, so tests can run side
by side on shared servers. A server that is down fails the test: none is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import pytest
from bson import Decimal128
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError

from kefu.unify.connector import Rows, SourceFailure
from kefu.unify.connectors.mongo import MongoClient
from kefu.unify.connectors.mysql import MySqlClient
from kefu.unify.connectors.registry import open_client
from kefu.unify.connectors.sql import SqlClient

MONGO_URL = "mongodb://127.0.0.1:27117/?directConnection=true"
MONGO_DB = "kefu_connector_tests"
MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
MYSQL_PARTS = {"host": "127.0.0.1", "port": 3306, "user": "root", "database": "test"}
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"  # as tests/conftest.py connects

HOSTILE = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "\\' OR 1=1 -- ",
    "x'; DROP TABLE t; --",
    '{"$ne": null}',
    '{"$gt": ""}',
    "%s",
    "%(value)s",
    ":value",
    ".*",
    "$key",
    "",
]
"""Values a visitor could type where kefu expects a customer key; each must match nothing."""


# pymongo 4.20 does not close a socket when its task is cancelled while the socket is still
# connecting (PYTHON-5867, mongodb/mongo-python-driver#2858): a cancelled request, or
# closing a client while its monitors connect, leaves the socket to the garbage collector,
# which closes it with a ResourceWarning. Only those sockets are let through: one still
# unconnected, or one connected to SecantusDB. A socket to MariaDB or PostgreSQL left
# open by the SQL connectors still fails its test.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket ((?!raddr).)*>"
    r"|Exception ignored in. <socket\.socket .*27117\)>:pytest.PytestUnraisableExceptionWarning"
)


@pytest.fixture(autouse=True)
def collect_garbage() -> Iterator[None]:
    """Collect after each test, so a dropped socket is reported by the test that dropped it."""
    yield
    gc.collect()


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


# A hang guard for requests meant to answer: only a stuck pool takes this long, a busy
# machine never does.
HANG_GUARD = 30
# What the cancelled queries sleep: "cancelled well before this" proves the cancel did not
# wait for them, with all the slack a loaded host may need.
SLOW_QUERY_SECONDS = 30


async def cancelled_after(seconds: float, work: Awaitable[Any]) -> float:
    """Run ``work`` under a deadline it cannot meet; return how long cancelling took."""
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(work, seconds)
    return time.monotonic() - started


# --- MongoDB (SecantusDB) -----------------------------------------------------------------

SINCE = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
async def mongo_collection() -> AsyncIterator[str]:
    """A collection of customers: ``c-0`` … ``c-49``, ``c-1`` with three visits."""
    name = unique("customers")
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URL, tz_aware=True)
    try:
        collection = admin[MONGO_DB][name]
        await collection.insert_many(
            [
                {
                    "key": f"c-{i}",
                    "email": f"user{i}@example.test",
                    "name": f"User {i}",
                    "points": Decimal128(f"{i}.50"),
                    "since": SINCE,
                    "address": {"city": "Hangzhou", "lines": ["1 West Lake Road"]},
                }
                for i in range(50)
            ]
        )
        await collection.insert_many(
            [{"key": "c-1", "visit": n, "page": f"/p/{n}"} for n in (2, 3, 1)]
        )
        yield name
        await collection.drop()
    finally:
        await admin.close()


@pytest.fixture
async def mongo() -> AsyncIterator[MongoClient]:
    client = MongoClient({"url": MONGO_URL, "database": MONGO_DB, "max_pool_size": 5})
    yield client
    await client.close()


async def test_mongo_fetches_the_documents_of_a_key(
    mongo: MongoClient, mongo_collection: str
) -> None:
    profile = mongo.prepare(
        {"collection": mongo_collection, "filter": {"key": "{value}", "email": {"$exists": True}}}
    )
    [document] = await profile.run("c-7")
    assert document["name"] == "User 7"
    assert isinstance(document["_id"], str) and len(document["_id"]) == 24
    assert document["points"] == Decimal("7.50")
    assert document["since"] == SINCE and document["since"].tzinfo is not None
    assert document["address"] == {"city": "Hangzhou", "lines": ["1 West Lake Road"]}
    assert mongo.paths.getter("address.lines.0")(document) == "1 West Lake Road"


async def test_mongo_projection_sort_and_limit(mongo: MongoClient, mongo_collection: str) -> None:
    visits = mongo.prepare(
        {
            "collection": mongo_collection,
            "filter": {"key": "{value}", "visit": {"$exists": True}},
            "projection": {"_id": 0, "visit": 1, "page": 1},
            "sort": [["visit", -1]],
            "limit": 2,
        }
    )
    found = await visits.run("c-1")
    assert found == [{"visit": 3, "page": "/p/3"}, {"visit": 2, "page": "/p/2"}]
    assert isinstance(found, Rows) and found.truncated  # c-1 has three visits
    every = mongo.prepare(
        {
            "collection": mongo_collection,
            "filter": {"key": "{value}", "visit": {"$exists": True}},
            "projection": {"_id": 0, "visit": 1},
            "limit": 3,
        }
    )
    exactly = await every.run("c-1")
    assert len(exactly) == 3 and isinstance(exactly, Rows) and not exactly.truncated


async def test_mongo_value_inside_strings_regex_and_expr(
    mongo: MongoClient, mongo_collection: str
) -> None:
    projection = {"_id": 0, "key": 1}
    by_local_part = mongo.prepare(
        {
            "collection": mongo_collection,
            "filter": {"email": "{value}@example.test"},
            "projection": projection,
        }
    )
    assert await by_local_part.run("user3") == [{"key": "c-3"}]
    by_prefix = mongo.prepare(
        {
            "collection": mongo_collection,
            "filter": {"email": {"$regex": "^{value}@"}},
            "projection": projection,
        }
    )
    assert await by_prefix.run("user4") == [{"key": "c-4"}]
    # Escaped: a pattern typed by a visitor is text, not "every email".
    assert await by_prefix.run(".*") == []
    by_expr = mongo.prepare(
        {
            "collection": mongo_collection,
            "filter": {"$expr": {"$eq": ["$email", "{value}"]}},
            "projection": projection,
        }
    )
    assert await by_expr.run("user5@example.test") == [{"key": "c-5"}]
    # A $literal: "$email" is not the document's own email (which would match all 50).
    assert await by_expr.run("$email") == []
    by_regex_match = mongo.prepare(
        {
            "collection": mongo_collection,
            "filter": {"$expr": {"$regexMatch": {"input": "$email", "regex": "^{value}@"}}},
            "projection": projection,
        }
    )
    assert await by_regex_match.run("user6") == [{"key": "c-6"}]
    assert await by_regex_match.run(".*") == []


async def test_mongo_hostile_values_match_nothing(
    mongo: MongoClient, mongo_collection: str
) -> None:
    requests = [
        mongo.prepare({"collection": mongo_collection, "filter": {"key": "{value}"}}),
        mongo.prepare({"collection": mongo_collection, "filter": {"email": {"$in": ["{value}"]}}}),
        mongo.prepare(
            {
                "collection": mongo_collection,
                "filter": {"$or": [{"key": "{value}"}, {"name": "{value}"}]},
            }
        ),
    ]
    for request in requests:
        for value in HOSTILE:
            assert await request.run(value) == [], value
    # The same filter does find a real key.
    assert len(await requests[0].run("c-2")) == 1


async def test_mongo_server_error_is_a_source_failure(
    mongo: MongoClient, mongo_collection: str
) -> None:
    broken = mongo.prepare({"collection": mongo_collection, "filter": {"key": {"$in": "{value}"}}})
    with pytest.raises(SourceFailure):
        await broken.run("c-1")
    good = mongo.prepare({"collection": mongo_collection, "filter": {"key": "{value}"}})
    assert len(await good.run("c-2")) == 1


async def test_mongo_cancelled_requests_leave_the_client_usable(mongo_collection: str) -> None:
    # One pooled connection: a request cancelled mid-reply that went back to the pool
    # would hand its reply to the next request, or block it forever if it leaked. The
    # cancellations land at every step of a request, from checkout to the last read.
    client = MongoClient({"url": MONGO_URL, "database": MONGO_DB, "max_pool_size": 1})
    try:
        request = client.prepare({"collection": mongo_collection, "filter": {"key": "{value}"}})
        for step in range(40):
            key = f"c-{10 + step}"
            documents = await asyncio.wait_for(request.run(key), HANG_GUARD)
            assert [d["key"] for d in documents] == [key]
            task = asyncio.create_task(request.run("c-1"))
            for _ in range(step):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert len(await asyncio.wait_for(request.run("c-1"), HANG_GUARD)) == 4
    finally:
        await client.close()


async def test_mongo_fifty_concurrent_requests(mongo: MongoClient, mongo_collection: str) -> None:
    request = mongo.prepare(
        {"collection": mongo_collection, "filter": {"key": "{value}", "email": {"$exists": True}}}
    )
    replies = await asyncio.gather(*(request.run(f"c-{i}") for i in range(50)))
    assert [[d["email"] for d in reply] for reply in replies] == [
        [f"user{i}@example.test"] for i in range(50)
    ]


@pytest.mark.parametrize(
    "connection",
    [
        {"url": MONGO_URL, "database": "x", "pool": 3},
        {"url": MONGO_URL},
        {"url": "http://127.0.0.1:27117", "database": "x"},
        {"url": MONGO_URL, "database": ""},
        {"url": MONGO_URL, "database": "x", "max_pool_size": 0},
        {"url": MONGO_URL, "database": "x", "server_selection_timeout_ms": "soon"},
    ],
)
def test_mongo_bad_connection_options(connection: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MongoClient(connection)


@pytest.mark.parametrize(
    "request_template",
    [
        {"collection": "c", "filter": {"key": "{value}"}, "hint": "key_1"},
        {"collection": "c", "filter": {"{value}": 1}},
        {"collection": "c", "filter": {"a": {"{value}.x": "{value}"}}},
        {"collection": "c", "filter": {"key": "c-1"}},
        {"collection": "c", "filter": {"$where": "this.key == '{value}'"}},
        {"collection": "c", "filter": {"$expr": {"$function": {"body": "{value}"}}}},
        {"collection": "c", "filter": {"key": "{value}"}, "limit": 0},
        {"collection": "c", "filter": {"key": "{value}"}, "limit": 1001},
        {"collection": "c", "filter": {"key": "{value}"}, "sort": [["key", 2]]},
        {"collection": "", "filter": {"key": "{value}"}},
        {"filter": {"key": "{value}"}},
    ],
)
def test_mongo_bad_request_templates(request_template: dict[str, Any]) -> None:
    client = MongoClient({"url": MONGO_URL, "database": MONGO_DB})
    with pytest.raises(ValueError):
        client.prepare(request_template)


# --- MariaDB through asyncmy --------------------------------------------------------------


@dataclass
class MySqlTable:
    name: str
    function: str  # a stored function that writes into the table


async def mysql_admin() -> asyncmy.Connection:
    return await asyncmy.connect(**MYSQL_PARTS, autocommit=True)


@pytest.fixture
async def orders_table() -> AsyncIterator[MySqlTable]:
    """An orders table of customers ``c-0`` … ``c-49`` (two orders for ``c-1``)."""
    table = MySqlTable(unique("kefu_orders"), unique("kefu_write"))
    admin = await mysql_admin()
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(
                f"CREATE TABLE {table.name} (id INT AUTO_INCREMENT PRIMARY KEY,"
                " customer VARCHAR(64) NOT NULL, sku VARCHAR(32) NOT NULL,"
                " amount DECIMAL(10, 2) NOT NULL, placed DATETIME NOT NULL,"
                " note VARCHAR(100) NOT NULL DEFAULT '')"
            )
            rows = [
                (f"c-{i}", f"SKU-{i}", Decimal(f"{i}.25"), "2024-05-06 07:08:09", "")
                for i in range(50)
            ]
            rows.append(("c-1", "SKU-GIFT", Decimal("0.00"), "2024-05-07 00:00:00", "100% gift"))
            await cursor.executemany(
                f"INSERT INTO {table.name} (customer, sku, amount, placed, note)"
                " VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
            await cursor.execute(
                f"CREATE FUNCTION {table.function}(who VARCHAR(64)) RETURNS INT"
                f" MODIFIES SQL DATA BEGIN INSERT INTO {table.name} (customer, sku, amount,"
                " placed) VALUES (who, 'EVIL', 0, NOW()); RETURN 1; END"
            )
        yield table
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP FUNCTION IF EXISTS {table.function}")
            await cursor.execute(f"DROP TABLE IF EXISTS {table.name}")
    finally:
        await admin.ensure_closed()


@pytest.fixture
async def mysql() -> AsyncIterator[MySqlClient]:
    client = MySqlClient({"url": MYSQL_URL, "pool_size": 5})
    yield client
    await client.close()


async def test_mysql_fetches_the_rows_of_a_key(
    mysql: MySqlClient, orders_table: MySqlTable
) -> None:
    orders = mysql.prepare(
        {
            "query": f"SELECT sku, amount, placed FROM {orders_table.name}"
            " WHERE customer = :value ORDER BY placed;"
        }
    )
    assert await orders.run("c-1") == [
        {"sku": "SKU-1", "amount": Decimal("1.25"), "placed": datetime(2024, 5, 6, 7, 8, 9)},
        {"sku": "SKU-GIFT", "amount": Decimal("0.00"), "placed": datetime(2024, 5, 7)},
    ]


async def test_mysql_host_form_percent_signs_and_repeated_value(orders_table: MySqlTable) -> None:
    client = MySqlClient({**MYSQL_PARTS, "password": "", "connect_timeout_seconds": 2})
    try:
        gifts = client.prepare(
            {
                "query": f"SELECT sku, note FROM {orders_table.name}"
                " WHERE (customer = :value OR sku = :value) AND note LIKE '%gift%'"
            }
        )
        assert await gifts.run("c-1") == [{"sku": "SKU-GIFT", "note": "100% gift"}]
        by_part = client.prepare(
            {
                "query": f"SELECT customer FROM {orders_table.name}"
                " WHERE sku LIKE CONCAT('%', :value) ORDER BY customer"
            }
        )
        assert await by_part.run("-49") == [{"customer": "c-49"}]
    finally:
        await client.close()


async def test_mysql_hostile_values_match_nothing(
    mysql: MySqlClient, orders_table: MySqlTable
) -> None:
    orders = mysql.prepare(
        {"query": f"SELECT sku FROM {orders_table.name} WHERE customer = :value"}
    )
    for value in HOSTILE:
        assert await orders.run(value) == [], value
    assert await orders.run("c-3") == [{"sku": "SKU-3"}]


async def mysql_running(marker: str) -> int:
    """How many queries whose text holds ``marker`` the server is running now."""
    admin = await mysql_admin()
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                " WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
                (f"%{marker}%",),
            )
            [(count,)] = await cursor.fetchall()
            return int(count)
    finally:
        await admin.ensure_closed()


async def test_mysql_cancelled_query_leaves_the_pool_usable(orders_table: MySqlTable) -> None:
    # One connection: the cancelled one must be replaced, not leaked nor handed on with
    # the sleeping query's reply still to come.
    client = MySqlClient({"url": MYSQL_URL, "pool_size": 1})
    marker = unique("slow")
    try:
        slow = client.prepare(
            {"query": f"SELECT :value AS marker, SLEEP({SLOW_QUERY_SECONDS}) AS slept"}
        )
        orders = client.prepare(
            {"query": f"SELECT sku FROM {orders_table.name} WHERE customer = :value"}
        )
        assert await orders.run("c-2") == [{"sku": "SKU-2"}]
        assert await cancelled_after(0.1, slow.run(marker)) < SLOW_QUERY_SECONDS / 2
        assert await asyncio.wait_for(orders.run("c-4"), HANG_GUARD) == [{"sku": "SKU-4"}]
        assert await cancelled_after(0.1, slow.run(marker)) < SLOW_QUERY_SECONDS / 2
        assert await asyncio.wait_for(orders.run("c-5"), HANG_GUARD) == [{"sku": "SKU-5"}]
        # And the server stopped the sleeping queries, rather than run them to their end.
        async with asyncio.timeout(HANG_GUARD):  # waits on the server's process list
            while await mysql_running(marker) != 0:
                await asyncio.sleep(0.05)
    finally:
        await client.close()


async def test_mysql_sessions_are_read_only(mysql: MySqlClient, orders_table: MySqlTable) -> None:
    sneaky = mysql.prepare({"query": f"SELECT {orders_table.function}(:value) AS written"})
    with pytest.raises(SourceFailure, match="READ ONLY"):
        await sneaky.run("c-1")
    count = mysql.prepare(
        {"query": f"SELECT COUNT(*) AS n FROM {orders_table.name} WHERE customer = :value"}
    )
    assert await count.run("c-1") == [{"n": 2}]


async def test_mysql_server_error_is_a_source_failure(
    orders_table: MySqlTable,
) -> None:
    client = MySqlClient({"url": MYSQL_URL, "pool_size": 1})
    try:
        broken = client.prepare(
            {"query": f"SELECT no_such_column FROM {orders_table.name} WHERE customer = :value"}
        )
        with pytest.raises(SourceFailure):
            await broken.run("c-1")
        good = client.prepare(
            {"query": f"SELECT sku FROM {orders_table.name} WHERE customer = :value"}
        )
        assert await good.run("c-6") == [{"sku": "SKU-6"}]
    finally:
        await client.close()


async def test_mysql_fifty_concurrent_requests(
    mysql: MySqlClient, orders_table: MySqlTable
) -> None:
    orders = mysql.prepare(
        {"query": f"SELECT sku FROM {orders_table.name} WHERE customer = :value AND note = ''"}
    )
    replies = await asyncio.gather(*(orders.run(f"c-{i}") for i in range(50)))
    assert replies == [[{"sku": f"SKU-{i}"}] for i in range(50)]


@pytest.mark.parametrize(
    "connection",
    [
        {"url": MYSQL_URL, "pool": 3},
        {"url": MYSQL_URL, "host": "127.0.0.1"},
        {"url": "postgresql://root@127.0.0.1/test"},
        {"url": "mysql://127.0.0.1/test"},
        {"url": "mysql://root@127.0.0.1:3306/test?ssl=1"},
        {"host": "127.0.0.1"},
        {"user": "root"},
        {"url": MYSQL_URL, "pool_size": 0},
        {"url": MYSQL_URL, "connect_timeout_seconds": 0},
    ],
)
def test_mysql_bad_connection_options(connection: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MySqlClient(connection)


def test_mysql_options_hide_the_password() -> None:
    with pytest.raises(ValueError) as raised:
        MySqlClient({"url": "mysql://root:hunter2@127.0.0.1:3306/test?x=1"})
    assert "hunter2" not in str(raised.value)


# --- Templates both SQL connectors refuse -------------------------------------------------

BAD_QUERIES = [
    "DELETE FROM t WHERE customer = :value",
    "UPDATE t SET x = 1 WHERE customer = :value",
    "SELECT * FROM t WHERE customer = :value; DROP TABLE t",
    "SELECT * FROM t WHERE customer = :value; SELECT 1;",
    "SELECT * FROM t WHERE customer = 'c-1'",
    "SELECT * FROM t WHERE customer = :value::text",
    "SELECT * FROM t WHERE customer = :value AND kind = :kind",
    "SELECT * FROM t WHERE customer = :value FOR UPDATE",
    "SELECT * INTO OUTFILE '/tmp/x' FROM t WHERE customer = :value",
    "WITH d AS (DELETE FROM t WHERE customer = :value RETURNING *) SELECT * FROM d",
    "/* comment */ SELECT * FROM t WHERE customer = :value",
    "",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_sql_templates_refused_at_prepare(query: str) -> None:
    for client in (
        MySqlClient({"url": MYSQL_URL}),
        SqlClient({"url": "postgresql+asyncpg://postgres@127.0.0.1:5432/test"}),
    ):
        with pytest.raises(ValueError):
            client.prepare({"query": query})
    with pytest.raises(ValueError):
        SqlClient({"url": "sqlite+aiosqlite://"}).prepare({"query": "SELECT :value", "x": 1})


def test_sql_templates_accepted() -> None:
    client = SqlClient({"url": "sqlite+aiosqlite://"})
    for query in [
        "select * from t where customer = :value;",
        "WITH o AS (SELECT * FROM t WHERE customer = :value) SELECT * FROM o",
        "SELECT * FROM t WHERE note = 'a;b' AND customer = :value",
        'SELECT "update", "into" FROM t WHERE customer = :value',
        "SELECT updated_at, REPLACE(phone, '-', '') AS phone FROM t WHERE customer = :value",
    ]:
        client.prepare({"query": query})


# --- Generic SQL over SQLAlchemy: SQLite, PostgreSQL, MariaDB -----------------------------


@dataclass
class SqlSource:
    backend: str
    url: str
    table: str
    execute: Callable[[str], Awaitable[None]]  # admin DDL on the same database


SCHEMA = "(customer VARCHAR(64) NOT NULL, sku VARCHAR(32) NOT NULL, quantity INTEGER NOT NULL)"


def insert_rows(table: str) -> str:
    values = ", ".join(f"('c-{i}', 'SKU-{i}', {i})" for i in range(50))
    return f"INSERT INTO {table} (customer, sku, quantity) VALUES {values}, ('c-1', 'SKU-X', 7)"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def sql_source(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlSource]:
    table = unique("kefu_lines")
    if request.param == "sqlite":
        path = tmp_path / "department.db"

        async def sqlite_execute(statement: str) -> None:
            with sqlite3.connect(path) as db:
                db.execute(statement)

        source = SqlSource("sqlite", f"sqlite+aiosqlite:///{path}", table, sqlite_execute)
        await source.execute(f"CREATE TABLE {table} {SCHEMA}")
        await source.execute(insert_rows(table))
        yield source
    elif request.param == "postgresql":
        admin = await asyncpg.connect(PG_DSN)

        async def pg_execute(statement: str) -> None:
            await admin.execute(statement)

        try:
            source = SqlSource(
                "postgresql", "postgresql+asyncpg://postgres@127.0.0.1:5432/test", table, pg_execute
            )
            await source.execute(f"CREATE TABLE {table} {SCHEMA}")
            await source.execute(insert_rows(table))
            yield source
            await source.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await admin.close()
    else:
        my = await mysql_admin()

        async def mysql_execute(statement: str) -> None:
            async with my.cursor() as cursor:
                await cursor.execute(statement)

        try:
            source = SqlSource(
                "mysql", "mysql+asyncmy://root@127.0.0.1:3306/test", table, mysql_execute
            )
            await source.execute(f"CREATE TABLE {table} {SCHEMA}")
            await source.execute(insert_rows(table))
            yield source
            await source.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await my.ensure_closed()


@pytest.fixture
async def sql(sql_source: SqlSource) -> AsyncIterator[SqlClient]:
    client = SqlClient({"url": sql_source.url, "pool_size": 5})
    yield client
    await client.close()


async def test_sql_fetches_the_rows_of_a_key(sql: SqlClient, sql_source: SqlSource) -> None:
    lines = sql.prepare(
        {
            "query": f"SELECT sku, quantity FROM {sql_source.table}"
            " WHERE customer = :value ORDER BY sku"
        }
    )
    assert await lines.run("c-1") == [
        {"sku": "SKU-1", "quantity": 1},
        {"sku": "SKU-X", "quantity": 7},
    ]
    assert await lines.run("c-404") == []


async def test_sql_hostile_values_match_nothing(sql: SqlClient, sql_source: SqlSource) -> None:
    lines = sql.prepare({"query": f"SELECT sku FROM {sql_source.table} WHERE customer = :value"})
    for value in HOSTILE:
        assert await lines.run(value) == [], value
    assert await lines.run("c-8") == [{"sku": "SKU-8"}]


async def test_sql_fifty_concurrent_requests(sql: SqlClient, sql_source: SqlSource) -> None:
    lines = sql.prepare(
        {"query": f"SELECT sku FROM {sql_source.table} WHERE customer = :value AND sku <> 'SKU-X'"}
    )
    replies = await asyncio.gather(*(lines.run(f"c-{i}") for i in range(50)))
    assert replies == [[{"sku": f"SKU-{i}"}] for i in range(50)]


async def test_sql_sessions_are_read_only(sql: SqlClient, sql_source: SqlSource) -> None:
    # Past prepare's check, straight on a pooled connection: the server itself refuses.
    async with sql.engine().connect() as conn:
        with pytest.raises(Exception, match=r"(?i)read.?only"):
            await conn.exec_driver_sql(
                f"INSERT INTO {sql_source.table} (customer, sku, quantity) VALUES ('x', 'y', 1)"
            )
    count = sql.prepare(
        {"query": f"SELECT COUNT(*) AS n FROM {sql_source.table} WHERE customer <> :value"}
    )
    assert await count.run("nobody") == [{"n": 51}]


async def test_sql_postgres_select_that_writes_is_refused(sql_source: SqlSource) -> None:
    if sql_source.backend != "postgresql":
        return  # nextval is PostgreSQL's; MariaDB's equivalent is tested through asyncmy
    sequence = unique("kefu_seq")
    await sql_source.execute(f"CREATE SEQUENCE {sequence}")
    client = SqlClient({"url": sql_source.url, "pool_size": 1})
    try:
        sneaky = client.prepare(
            {"query": f"SELECT nextval('{sequence}') AS n, CAST(:value AS text) AS v"}
        )
        with pytest.raises(SourceFailure, match="read-only"):
            await sneaky.run("c-1")
        # Casts with :: beside the bind, Decimal and aware datetimes come through.
        typed = client.prepare(
            {
                "query": "SELECT quantity::numeric / 4 AS share, now() AS at"
                f" FROM {sql_source.table} WHERE customer = :value AND sku::text <> ''"
            }
        )
        [row] = await typed.run("c-6")
        assert row["share"] == Decimal("1.5")
        assert isinstance(row["at"], datetime) and row["at"].tzinfo is not None
    finally:
        await client.close()
        await sql_source.execute(f"DROP SEQUENCE IF EXISTS {sequence}")


SLEEPS = {
    "postgresql": f"SELECT CAST(:value AS text) AS v, pg_sleep({SLOW_QUERY_SECONDS}) AS slept",
    "mysql": f"SELECT :value AS v, SLEEP({SLOW_QUERY_SECONDS}) AS slept",
}


async def test_sql_cancelled_query_leaves_the_pool_usable(sql_source: SqlSource) -> None:
    if sql_source.backend not in SLEEPS:
        return  # SQLite has no sleep; its queries run in aiosqlite's thread
    client = SqlClient({"url": sql_source.url, "pool_size": 1})
    try:
        slow = client.prepare({"query": SLEEPS[sql_source.backend]})
        lines = client.prepare(
            {"query": f"SELECT sku FROM {sql_source.table} WHERE customer = :value ORDER BY sku"}
        )
        assert await lines.run("c-2") == [{"sku": "SKU-2"}]
        assert await cancelled_after(0.1, slow.run("c-2")) < SLOW_QUERY_SECONDS / 2
        assert await asyncio.wait_for(lines.run("c-3"), HANG_GUARD) == [{"sku": "SKU-3"}]
        assert await cancelled_after(0.1, slow.run("c-2")) < SLOW_QUERY_SECONDS / 2
        assert await asyncio.wait_for(lines.run("c-4"), HANG_GUARD) == [{"sku": "SKU-4"}]
    finally:
        await client.close()


async def test_sql_server_error_is_a_source_failure(sql: SqlClient, sql_source: SqlSource) -> None:
    broken = sql.prepare(
        {"query": f"SELECT no_such_column FROM {sql_source.table} WHERE customer = :value"}
    )
    with pytest.raises(SourceFailure):
        await broken.run("c-1")
    lines = sql.prepare({"query": f"SELECT sku FROM {sql_source.table} WHERE customer = :value"})
    assert await lines.run("c-9") == [{"sku": "SKU-9"}]


async def test_sql_memory_sqlite_ignores_pool_size() -> None:
    client = SqlClient({"url": "sqlite+aiosqlite://", "pool_size": 3})
    try:
        echo = client.prepare({"query": "SELECT :value AS v"})
        assert await echo.run("' OR 1=1 --") == [{"v": "' OR 1=1 --"}]
    finally:
        await client.close()


@pytest.mark.parametrize(
    "connection",
    [
        {"url": "sqlite+aiosqlite://", "pool": 3},
        {"url": "postgresql://postgres@127.0.0.1:5432/test"},
        {"url": "sqlite:///x.db"},
        {"url": "nosuchdb+driver://x"},
        {"url": "not a url"},
        {"url": "sqlite+aiosqlite://", "pool_size": 0},
        {},
    ],
)
def test_sql_bad_connection_options(connection: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SqlClient(connection)


# --- All three: built without I/O, and a dead server is not a "source failure" ------------


async def test_clients_connect_only_on_first_request() -> None:
    clients = [
        open_client(
            "mongodb",
            {
                "url": "mongodb://127.0.0.1:1/?directConnection=true",
                "database": "x",
                "server_selection_timeout_ms": 200,
            },
        ),
        open_client(
            "mysql", {"url": "mysql://root@127.0.0.1:1/test", "connect_timeout_seconds": 1}
        ),
        open_client("sql", {"url": "postgresql+asyncpg://postgres@127.0.0.1:1/test"}),
    ]
    assert isinstance(clients[0], MongoClient)
    assert isinstance(clients[1], MySqlClient)
    assert isinstance(clients[2], SqlClient)
    requests = [
        clients[0].prepare({"collection": "c", "filter": {"key": "{value}"}}),
        clients[1].prepare({"query": "SELECT :value AS v"}),
        clients[2].prepare({"query": "SELECT CAST(:value AS text) AS v"}),
    ]
    try:
        with pytest.raises(ServerSelectionTimeoutError):
            await requests[0].run("c-1")
        with pytest.raises(asyncmy.errors.OperationalError):
            await requests[1].run("c-1")
        with pytest.raises(OSError):
            await requests[2].run("c-1")
    finally:
        for client in clients:
            await client.close()


async def test_closed_clients_refuse_requests(mongo_collection: str) -> None:
    mongo = MongoClient({"url": MONGO_URL, "database": MONGO_DB})
    request = mongo.prepare({"collection": mongo_collection, "filter": {"key": "{value}"}})
    assert len(await request.run("c-1")) == 4
    await mongo.close()
    with pytest.raises(RuntimeError):
        await request.run("c-1")
