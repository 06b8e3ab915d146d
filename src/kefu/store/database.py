"""The engine owner: URL normalisation, SQLite pragmas, migrations at start.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives a process crash,
and readers never block the single writer (the message group-commit task).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from kefu.errors import ConfigError
from kefu.store.migrate import upgrade_to_head


def async_url(url: str) -> str:
    """Map the user-facing ``sqlite:///`` / ``postgresql://`` to async drivers."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise ConfigError("store", f"unsupported URL scheme in {url.split(':', 1)[0]!r}")


class Database:
    """Async context manager owning the engine; ``dialect`` is ``sqlite`` or ``postgresql``."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.engine: AsyncEngine = _make_engine(self.url)
        self.dialect: str = self.engine.dialect.name

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.engine.dispose()

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (autobegin; rolled back on exit)."""
        return self.engine.connect()

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection inside one transaction, committed on clean exit."""
        return self.engine.begin()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def migrate(self) -> list[str]:
        """Apply pending Alembic revisions; returns those applied."""
        async with self.engine.begin() as conn:
            return await conn.run_sync(upgrade_to_head)


def _make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=8, max_overflow=0)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A second writer (admin change during a message burst) waits instead of failing.
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


__all__ = ["AsyncConnection", "Database", "async_url"]
