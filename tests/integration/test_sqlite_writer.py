"""SQLite's writer thread and checkpointer: transactions whole or not at all, and WAL
checkpoints on a thread of their own, never inside a chat message's commit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kefu.store.database import Database


async def test_the_wal_is_checkpointed_by_its_own_thread_and_emptied_at_close(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kefu.db"
    wal = Path(f"{path}-wal")
    async with Database(f"sqlite:///{path}") as db:
        async with db.begin() as conn:
            assert (await conn.execute(sa.text("PRAGMA wal_autocheckpoint"))).scalar() == 0
            await conn.execute(sa.text("CREATE TABLE filler (body TEXT)"))
        base = os.path.getsize(path)
        async with db.begin() as conn:  # ~3 MB: three times SQLite's automatic mark
            await conn.execute(
                sa.text("INSERT INTO filler VALUES (:body)"), [{"body": "x" * 3000}] * 1000
            )
        # Committed into the WAL only: no commit checkpoints any more.
        assert os.path.getsize(path) == base
        assert wal.stat().st_size > 3_000_000
        for _ in range(100):  # the checkpointer copies it back within a second or so
            if os.path.getsize(path) > base + 3_000_000:
                break
            await asyncio.sleep(0.1)
        assert os.path.getsize(path) > base + 3_000_000
    assert not wal.exists() or wal.stat().st_size == 0


async def test_writer_transactions_commit_whole_or_roll_back_whole(tmp_path: Path) -> None:
    async with Database(f"sqlite:///{tmp_path / 'kefu.db'}") as db:
        async with db.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))

        def through_sqlalchemy(conn: Connection, value: int) -> int:
            conn.execute(sa.text("INSERT INTO t VALUES (:v)"), {"v": value})
            return value

        def half_then_fail(conn: Connection) -> None:
            conn.execute(sa.text("INSERT INTO t VALUES (2)"))
            _driver(conn).execute("INSERT INTO t VALUES (3)")
            raise ValueError("refused")

        def through_the_driver(conn: Connection) -> None:
            _driver(conn).execute("INSERT INTO t VALUES (4)")

        assert await db.run_in_transaction(through_sqlalchemy, 1) == 1
        with pytest.raises(ValueError, match="refused"):
            await db.run_in_transaction(half_then_fail)
        await db.run_in_transaction(through_the_driver)  # on a fresh connection
        async with db.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT x FROM t ORDER BY x"))).scalars().all()
        assert rows == [1, 4]


def _driver(conn: Connection) -> Any:
    raw = conn.connection.driver_connection
    assert raw is not None
    return raw
