"""Baseline chat relay: what a Python developer would write with python-socketio.

AsyncServer on aiohttp (socket.io's recommended asyncio deployment). A visitor joins the
room of its conversation, an agent joins the rooms of the conversations it serves. On
``message`` the server stores the message the way a typical app does (one INSERT + COMMIT
per message: aiosqlite, or asyncpg with its implicit transaction), emits ``message_new`` to
the conversation's room (visitor and agent: the same three frames per message as kefu,
counting the ack) and acks through the emit callback.

With ``--redis-url`` several such servers form one cluster the way python-socketio's
documentation scales out: ``socketio.AsyncRedisManager`` publishes every emit on a Redis
pub/sub channel (``--redis-channel``, one per deployment sharing a Redis) and each server
delivers it to the members of the room it holds; the emitting server delivers to its own
members first, then publishes.

Run: ``python -m bench.socketio_server --port P --store sqlite:///path.db``
or ``--store postgresql://postgres@127.0.0.1:5432/db``
[``--redis-url redis://127.0.0.1:6379/0 --redis-channel NAME``].
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, Protocol

import aiosqlite
import asyncpg
import socketio
import uvloop
from aiohttp import web


class MessageStore(Protocol):
    async def open(self) -> None: ...
    async def insert(self, conversation_id: str, client_msg_id: str, body: str) -> str: ...
    async def close(self) -> None: ...


class SqliteStore:
    """One aiosqlite connection, as in the aiosqlite README.

    WAL with synchronous=NORMAL is what a reasonably tuned app sets (and what an embedded
    server such as kefu sets); with SQLite's defaults every COMMIT fsyncs the rollback
    journal and the baseline would be a straw man.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self._db = await aiosqlite.connect(self._path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation_id TEXT,"
            " client_msg_id TEXT, body TEXT, created_at TEXT,"
            " UNIQUE (conversation_id, client_msg_id))"
        )
        await self._db.commit()

    async def insert(self, conversation_id: str, client_msg_id: str, body: str) -> str:
        if self._db is None:
            raise RuntimeError("store not open")
        cur = await self._db.execute(
            "INSERT INTO messages (conversation_id, client_msg_id, body, created_at)"
            " VALUES (?, ?, ?, ?)",
            (conversation_id, client_msg_id, body, _now()),
        )
        await self._db.commit()
        return str(cur.lastrowid)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()


class PostgresStore:
    """An asyncpg pool; one autocommitted INSERT ... RETURNING per message."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self._dsn, min_size=2, max_size=10)
        await self._pool.execute(
            "CREATE TABLE IF NOT EXISTS sio_messages (id BIGSERIAL PRIMARY KEY,"
            " conversation_id TEXT, client_msg_id TEXT, body TEXT,"
            " created_at TIMESTAMPTZ DEFAULT now(), UNIQUE (conversation_id, client_msg_id))"
        )

    async def insert(self, conversation_id: str, client_msg_id: str, body: str) -> str:
        if self._pool is None:
            raise RuntimeError("store not open")
        row_id = await self._pool.fetchval(
            "INSERT INTO sio_messages (conversation_id, client_msg_id, body)"
            " VALUES ($1, $2, $3) RETURNING id",
            conversation_id,
            client_msg_id,
            body,
        )
        return str(row_id)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def make_store(url: str) -> MessageStore:
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    raise ValueError(f"unsupported store URL: {url}")


def create_app(
    store: MessageStore, redis_url: str | None = None, redis_channel: str = "socketio"
) -> web.Application:
    """Wire the socket.io handlers to ``store``; the store opens on app startup. With
    ``redis_url`` the server's rooms span every server on that Redis channel."""
    manager = socketio.AsyncRedisManager(redis_url, channel=redis_channel) if redis_url else None
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
    app = web.Application()
    sio.attach(app)

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any] | None) -> bool:
        auth = auth or {}
        if auth.get("role") == "agent":
            for conv in auth.get("convs", []):
                await sio.enter_room(sid, f"c:{conv}")
            await sio.save_session(sid, {"kind": "agent", "conv": None})
            return True
        conv = str(auth.get("conv", sid))
        await sio.save_session(sid, {"kind": "visitor", "conv": conv})
        await sio.enter_room(sid, f"c:{conv}")
        return True

    @sio.event  # type: ignore[untyped-decorator]
    async def message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        session = await sio.get_session(sid)
        conv = session["conv"] or str(data.get("conversation_id"))
        client_msg_id, body = str(data["client_msg_id"]), str(data["body"])
        message_id = await store.insert(conv, client_msg_id, body)
        new = {
            "id": message_id,
            "conversation_id": conv,
            "sender": {"kind": session["kind"], "id": sid, "name": "visitor"},
            "body": body,
            "created_at": _now(),
        }
        await sio.emit("message_new", new, room=f"c:{conv}")
        return {"client_msg_id": client_msg_id, "message_id": message_id, "conversation_id": conv}

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def on_startup(_: web.Application) -> None:
        await store.open()

    async def on_cleanup(_: web.Application) -> None:
        await store.close()

    app.router.add_get("/health", health)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True, help="sqlite:///PATH or postgresql://DSN")
    parser.add_argument(
        "--redis-url", default=None, help="redis://HOST:PORT/DB: rooms shared through Redis"
    )
    parser.add_argument(
        "--redis-channel", default="socketio", help="pub/sub channel of one deployment"
    )
    args = parser.parse_args()
    uvloop.install()
    web.run_app(
        create_app(make_store(args.store), args.redis_url, args.redis_channel),
        host=args.host,
        port=args.port,
        backlog=4096,
        print=None,
    )


if __name__ == "__main__":
    main()
