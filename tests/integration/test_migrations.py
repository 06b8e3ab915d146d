"""The Alembic migrations build exactly the schema ``kefu.store.tables`` describes."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from kefu.store.database import Database
from kefu.store.search_schema import is_search_table
from kefu.store.tables import metadata


def _outside_search(name: str | None, type_: str, parents: Any) -> bool:
    """The search index tables are each store's own kind (FTS5, tsvector), created by
    their migration and described in kefu.store.search_schema, not in ``tables``."""
    return not (type_ == "table" and is_search_table(name))


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": False, "include_name": _outside_search}
    )
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_tables(fresh_store_url: str) -> None:
    async with Database(fresh_store_url) as db:
        await db.migrate()
        async with db.connect() as conn:
            differences = await conn.run_sync(_differences)
    assert differences == []
