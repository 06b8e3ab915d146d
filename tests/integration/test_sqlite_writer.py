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

from kefu.store.database import WAL_RESTART_BYTES, Database
from kefu.store.sqlite_transaction import in_transaction


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


async def test_a_steady_stream_of_commits_still_lets_the_wal_start_over(tmp_path: Path) -> None:
    """The checkpointer copies the WAL beside the writer, so while commits keep coming
    none of its rounds ends with every frame copied, and SQLite only starts the WAL over
    from its beginning after such a round: the file grew for as long as the stream
    lasted (141 MB in 80 s of chat at 1,000 msg/s; 44 GB in two minutes of this test
    with 16 KB commits).
    Past ``WAL_RESTART_BYTES`` the writer thread finishes the checkpoint between two
    commits, so the WAL starts over (a new salt in its header) while the stream goes on,
    and no commit is lost."""
    path = tmp_path / "kefu.db"
    wal = Path(f"{path}-wal")
    rows = 64
    async with Database(f"sqlite:///{path}") as db:
        async with db.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB)"))
            await conn.execute(sa.text("CREATE TABLE tally (n INTEGER)"))
            await conn.execute(sa.text("INSERT INTO tally VALUES (0)"))
            await conn.execute(
                sa.text("INSERT INTO filler VALUES (:id, :body)"),
                [{"id": i, "body": b""} for i in range(rows)],
            )
        bodies = (os.urandom(4096), os.urandom(4096))
        committed = 0
        stop = False
        overgrown = False

        def one_more(conn: Connection) -> bool:
            """Rewrite a row and count it, then queue the next commit behind whatever else
            waits: back to back on the writer thread, as a busy chat's batches are. The
            database file stays small; only the WAL takes the stream."""
            nonlocal committed, overgrown

            def write(c: Connection) -> None:
                driver = _driver(c)
                body = bodies[committed // rows % 2]
                driver.execute("UPDATE filler SET body = ? WHERE id = ?", (body, committed % rows))
                driver.execute("UPDATE tally SET n = n + 1")

            in_transaction(conn, write)
            committed += 1
            # A WAL that never starts over must not fill the disk: stop and say so. The
            # mark is far above what the WAL reaches between two checkpointer rounds.
            overgrown = wal.stat().st_size > 32 * WAL_RESTART_BYTES
            if not stop and not overgrown:
                db.post_to_writer(one_more)
            return False

        def salt() -> bytes:
            with wal.open("rb") as f:
                return f.read(32)[16:24]

        db.post_to_writer(one_more)
        writer = db._writer
        assert writer is not None
        seen: set[bytes] = set()  # salts of the WAL's header: a new one each time it starts over
        async with asyncio.timeout(120):  # a hang guard: two rounds past the mark suffice
            while len(seen) < 3 and not overgrown:
                await asyncio.sleep(0.05)
                if wal.exists() and wal.stat().st_size >= 32:
                    seen.add(salt())
        stop = True
        # Queued behind the stream's last commit: once it has run, the stream is over.
        await db.run_in_transaction(lambda conn: None)
        assert not overgrown, "the WAL grew past 32 x WAL_RESTART_BYTES without starting over"
        assert writer.checkpoints_finished >= 1
        async with db.connect() as conn:  # the WAL started over and lost no commit
            count = (await conn.execute(sa.text("SELECT n FROM tally"))).scalar()
        assert count == committed


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
