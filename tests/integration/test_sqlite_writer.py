"""SQLite checkpoints run on their own thread, never inside a chat message's commit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import sqlalchemy as sa

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
