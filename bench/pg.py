"""A throw-away PostgreSQL database per measured server, so no run sees another's rows.

The machine's ``test`` database belongs to the test suite, which may be running at the
same time; the bench works in its own database (default ``kefu_bench``), dropped and
created afresh before each server that uses it.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg

BENCH_DB = "kefu_bench"
DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


async def _recreate(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def fresh_database(admin_dsn: str = DEFAULT_ADMIN_DSN, name: str = BENCH_DB) -> str:
    """Drop and create database ``name``; return a DSN for it (same host and user)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    asyncio.run(asyncio.wait_for(_recreate(admin_dsn, name), 30))
    parts = urlsplit(admin_dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def reachable(admin_dsn: str = DEFAULT_ADMIN_DSN) -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(admin_dsn, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True
