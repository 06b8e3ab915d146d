"""A row's write lock for the rest of a transaction, on either store.

PostgreSQL: ``SELECT … FOR UPDATE``. SQLite: a no-op ``UPDATE``, because SQLite in WAL
mode refuses to upgrade a transaction that has already read an older snapshot
(``SQLITE_BUSY_SNAPSHOT``, no retry): the first statement of a write transaction must be
a write, which then waits its turn under ``busy_timeout`` like any writer.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


async def lock_row(conn: AsyncConnection, table: sa.Table, key: str, value: Any) -> bool:
    """Write-lock the row whose ``key`` column is ``value``; False when there is none."""
    column = table.c[key]
    if conn.dialect.name == "postgresql":
        query = sa.select(column).where(column == value).with_for_update()
        return (await conn.execute(query)).first() is not None
    result = await conn.execute(table.update().where(column == value).values({key: column}))
    return bool(result.rowcount)
