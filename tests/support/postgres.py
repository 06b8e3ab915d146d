"""PostgreSQL databases for tests on the machine's server.

Creating, migrating and dropping a database costs ~2.7 s; emptying one costs a few
milliseconds. So each test process (each xdist worker) migrates one database once and
empties kefu's tables before every test that uses it (``Reusable.emptied``), while the
tests that need a database nobody else touched (migration tests, several nodes migrating
together, ``kefu serve --workers``' one-parent migration) still get a fresh, unmigrated
one from ``postgres_database()``.

Emptying deletes the rows of the tables a test wrote to, not a TRUNCATE of all ~30:
TRUNCATE gives every table and index new files, 0.3-1.5 s a test on a busy 2-core host,
where finding the written tables and deleting their few rows takes ~10-50 ms. A table
holding many rows is still truncated. Test databases also commit without waiting for
the WAL flush (``synchronous_commit = off``): what a commit makes visible is the same,
only a server crash could lose the last commits, and no test crashes the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg

from kefu.store.database import Database

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
# A test that left a connection holding a lock would make emptying wait for ever; this
# turns that into an error naming the cause.
EMPTY_LOCK_TIMEOUT = "20s"
# A per-database setting (CREATE DATABASE ... TEMPLATE does not copy it): sessions on a
# test database commit without waiting for the WAL flush.
NO_FLUSH_WAIT = 'ALTER DATABASE "{name}" SET synchronous_commit = off'
# Above this many rows a table is truncated rather than deleted row by row.
DELETE_ROWS_AT_MOST = 1000

T = TypeVar("T")


def _name(kind: str) -> str:
    """Unique on a machine where several test runs share one server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"kefu_{kind}_{worker}_{secrets.token_hex(4)}"


async def _create(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.execute(NO_FLUSH_WAIT.format(name=name))
    finally:
        await admin.close()


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty (unmigrated) database of the caller's own, dropped afterwards."""
    name = _name("t")
    await _create(name)
    try:
        yield PG_URL.format(name=name)
    finally:
        await _drop(name)


# What a test may change besides rows: kefu's tables and columns, functions, triggers,
# indexes, constraints, sequences, views, types, and the migration stamp. When any of it
# differs from the freshly migrated database, emptying is not enough: it is rebuilt.
SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
  SELECT 'c:' || table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
         || ':' || coalesce(column_default, '') AS item
    FROM information_schema.columns WHERE table_schema = 'public'
  UNION ALL SELECT 'f:' || p.proname
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
  UNION ALL SELECT 't:' || tgname || ':' || tgrelid::regclass::text
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL SELECT 'i:' || indexdef FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT 'k:' || conname || ':' || conrelid::regclass::text
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
   WHERE n.nspname = 'public'
  UNION ALL SELECT 's:' || sequencename FROM pg_sequences WHERE schemaname = 'public'
  UNION ALL SELECT 'v:' || viewname FROM pg_views WHERE schemaname = 'public'
  UNION ALL SELECT 'y:' || t.typname
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
  UNION ALL SELECT 'a:' || version_num FROM alembic_version
) AS schema_items
"""
# CREATE DATABASE … TEMPLATE fails while a just-closed connection's backend is still
# exiting; this many tries, a tenth of a second apart, outlast that.
TEMPLATE_BUSY_TRIES = 100


class Reusable:
    """One migrated database, emptied before each test instead of recreated.

    A test that changed more than rows (a trigger standing in for a fault, a dropped
    table) gets it rebuilt from this process's migrated template instead.
    """

    def __init__(self, name: str, template: str, tables: list[str], fingerprint: str) -> None:
        self.name = name
        self.url = PG_URL.format(name=name)
        self._template = template
        self._tables = tables
        self._fingerprint = fingerprint

    async def emptied(self) -> str:
        """Every kefu table emptied and every used sequence restarted, as freshly migrated."""
        conn = await asyncpg.connect(self.url)
        try:
            try:
                same = await conn.fetchval(SCHEMA_FINGERPRINT) == self._fingerprint
            except asyncpg.PostgresError:  # e.g. alembic_version dropped
                same = False
            if same:
                await conn.execute(f"SET lock_timeout = '{EMPTY_LOCK_TIMEOUT}'")
                await _empty(conn, self._tables)
        finally:
            await conn.close()
        if not same:
            await _drop(self.name)
            await _create_from(self.name, self._template)
        return self.url


async def _empty(conn: asyncpg.Connection, tables: list[str]) -> None:
    """Delete the rows of the tables that have any (truncate those with many) and restart
    the sequences that were used, in one transaction. Foreign keys and triggers are off
    for it (``session_replication_role = replica``): every table ends empty, so no order
    is needed, and no trigger may write a row back."""
    written = await conn.fetch(
        " UNION ALL ".join(
            f"SELECT '{table}' AS name,"
            f' EXISTS (SELECT 1 FROM "{table}" OFFSET {DELETE_ROWS_AT_MOST}) AS many'
            f' WHERE EXISTS (SELECT 1 FROM "{table}")'
            for table in tables
        )
    )
    used = await conn.fetch(
        "SELECT sequencename FROM pg_sequences"
        " WHERE schemaname = 'public' AND last_value IS NOT NULL"
    )
    if not written and not used:
        return
    many = [f'"{row["name"]}"' for row in written if row["many"]]
    statements = ["SET LOCAL session_replication_role = replica"]
    if many:
        statements.append(f"TRUNCATE {', '.join(many)} CASCADE")
    statements += [f'DELETE FROM "{row["name"]}"' for row in written if not row["many"]]
    statements += [f'ALTER SEQUENCE "{row["sequencename"]}" RESTART' for row in used]
    async with conn.transaction():
        await conn.execute(";\n".join(statements))


async def _create_from(name: str, template: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        for _ in range(TEMPLATE_BUSY_TRIES - 1):
            try:
                await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                break
            except asyncpg.ObjectInUseError:
                await asyncio.sleep(0.1)
        else:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        await admin.execute(NO_FLUSH_WAIT.format(name=name))
    finally:
        await admin.close()


async def _migrated(url: str) -> tuple[list[str], str]:
    """Migrate ``url``; the tables the migrations made (what emptying empties), and their
    schema's fingerprint."""
    async with Database(url) as db:
        await db.migrate()
    conn = await asyncpg.connect(url)
    try:
        tables = [
            row["tablename"]
            for row in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        ]
        fingerprint: str = await conn.fetchval(SCHEMA_FINGERPRINT)
    finally:
        await conn.close()
    return tables, fingerprint


def _in_own_loop(work: Callable[[], Awaitable[T]]) -> T:
    """Run async ``work`` to completion from synchronous code, on a thread of its own so
    that neither a running test loop nor pytest-asyncio's current loop is disturbed."""

    async def run() -> T:
        return await work()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def reusable_database() -> Iterator[Reusable]:
    """This process's migrated database for the session (made from a migrated template
    nobody connects to); both dropped at its end."""
    template, name = _name("tpl"), _name("w")
    _in_own_loop(lambda: _create(template))
    try:
        tables, fingerprint = _in_own_loop(lambda: _migrated(PG_URL.format(name=template)))
        _in_own_loop(lambda: _create_from(name, template))
        try:
            yield Reusable(name, template, tables, fingerprint)
        finally:
            _in_own_loop(lambda: _drop(name))
    finally:
        _in_own_loop(lambda: _drop(template))
