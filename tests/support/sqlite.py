"""SQLite stores for tests: one migrated per test process, copied for each test.

Migrating a new SQLite file runs all ~19 revisions (~0.1 s of CPU, 0.3-0.6 s on a busy
host) before every test on SQLite; copying a migrated file takes a millisecond. The copy
is what a fresh migrated store holds, as the PostgreSQL side's emptied database is
(``tests.support.postgres``); tests of migrating itself use ``fresh_store_url``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
from pathlib import Path

from kefu.store.database import Database


def migrated_template(path: Path) -> Path:
    """Migrate a new SQLite store at ``path``, left as one file (no -wal) to copy."""

    async def migrate() -> None:
        async with Database(f"sqlite:///{path}") as db:
            await db.migrate()

    # A thread of its own: neither a running test loop nor pytest-asyncio's is touched.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, migrate()).result()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")  # kefu turns WAL back on when it opens it
    conn.close()
    return path


def copy_of(template: Path, path: Path) -> str:
    """A copy of ``template`` at ``path``, private as kefu makes its database; its URL."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as copy:
        copy.write(template.read_bytes())
    return f"sqlite:///{path}"
