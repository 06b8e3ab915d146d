"""Operator settings kept in the store (key -> JSON value), edited from the console.

They live in the database rather than the config file so that every node sees an admin's
change and it survives restarts; the config file only supplies the defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kefu.store.database import Database
from kefu.store.tables import settings


class SettingsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored values among ``keys``; keys never set are absent."""
        query = sa.select(settings.c.key, settings.c.value).where(settings.c.key.in_(keys))
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.key: row.value for row in rows}

    async def put_many(self, values: dict[str, Any], now: datetime) -> None:
        """Insert or replace each value, in one transaction."""
        if not values:
            return
        dialect = postgresql if self._db.dialect == "postgresql" else sqlite
        rows = [{"key": k, "value": v, "updated_at": now} for k, v in values.items()]
        statement = dialect.insert(settings).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[settings.c.key],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        async with self._db.begin() as conn:
            await conn.execute(statement)

    async def with_prefix(self, prefix: str) -> dict[str, Any]:
        """Every stored value whose key starts with ``prefix`` (one key per item, so two
        admins adding items at once never overwrite each other's)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = sa.select(settings.c.key, settings.c.value).where(
            settings.c.key.like(escaped + "%", escape="\\")
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.key: row.value for row in rows}

    async def insert_new(self, key: str, value: Any, now: datetime) -> bool:
        """Store ``value`` unless ``key`` is taken; False (nothing written) when it is."""
        dialect = postgresql if self._db.dialect == "postgresql" else sqlite
        statement = (
            dialect.insert(settings)
            .values(key=key, value=value, updated_at=now)
            .on_conflict_do_nothing(index_elements=[settings.c.key])
        )
        async with self._db.begin() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        async with self._db.begin() as conn:
            result = await conn.execute(settings.delete().where(settings.c.key == key))
        return bool(result.rowcount)
