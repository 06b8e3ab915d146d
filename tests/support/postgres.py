"""PostgreSQL databases for tests on the machine's server.

Creating, migrating and dropping a database costs ~2.7 s; emptying one costs a few
milliseconds. So each test process (each xdist worker) migrates one database once and
empties kefu's tables before every test that uses it (``Reusable.emptied``), while the
tests that need a database nobody else touched (migration tests, several nodes migrating
together, ``kefu serve --workers``' one-parent migration) still get a fresh, unmigrated
one from ``postgres_database()``.
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
# A test that left a connection holding a lock would make TRUNCATE wait for ever; this
# turns that into an error naming the cause.
EMPTY_LOCK_TIMEOUT = "20s"

T = TypeVar("T")


def _name(kind: str) -> str:
    """Unique on a machine where several test runs share one server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"kefu_{kind}_{worker}_{secrets.token_hex(4)}"


async def _create(name: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
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


class Reusable:
    """One migrated database, emptied before each test instead of recreated."""

    def __init__(self, url: str, empty_sql: str) -> None:
        self.url = url
        self._empty_sql = empty_sql

    async def emptied(self) -> str:
        """Every kefu table truncated and every sequence restarted, as freshly migrated."""
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(f"SET lock_timeout = '{EMPTY_LOCK_TIMEOUT}'")
            await conn.execute(self._empty_sql)
        finally:
            await conn.close()
        return self.url


async def _migrated(url: str) -> str:
    """Migrate ``url``; the SQL that empties what the migrations made."""
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
        sequences = [
            row["sequencename"]
            for row in await conn.fetch(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            )
        ]
    finally:
        await conn.close()
    statements = []
    if tables:
        listed = ", ".join(f'"{table}"' for table in tables)
        statements.append(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")
    statements += [f'ALTER SEQUENCE "{sequence}" RESTART' for sequence in sequences]
    return ";\n".join(statements)


def _in_own_loop(work: Callable[[], Awaitable[T]]) -> T:
    """Run async ``work`` to completion from synchronous code, on a thread of its own so
    that neither a running test loop nor pytest-asyncio's current loop is disturbed."""

    async def run() -> T:
        return await work()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def reusable_database() -> Iterator[Reusable]:
    """This process's migrated database for the session; dropped at its end."""
    name = _name("w")
    url = PG_URL.format(name=name)
    _in_own_loop(lambda: _create(name))
    try:
        yield Reusable(url, _in_own_loop(lambda: _migrated(url)))
    finally:
        _in_own_loop(lambda: _drop(name))
