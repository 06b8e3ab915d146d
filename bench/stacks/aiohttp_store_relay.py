"""The bare aiohttp relay, plus kefu's SQLite store: each frame is stored before it is sent on.

Run: ``python -m bench.stacks.aiohttp_store_relay --port P --data DIR``. The sockets and the
forwarding are ``bench.stacks.aiohttp_relay``'s (``/ws?id=A&peer=B``). Each text frame is
first appended to kefu's own ``SqliteMessageWriter``, on a database migrated by kefu under
``DIR``. That is the writer thread, group commit, schema, search index and checkpointer that
``kefu serve`` uses. Only once the frame is committed does it go to the peer.

Why it exists: the bare relay stores nothing, so "kefu's CPU per message over the bare
relay's" mixes what storing costs with what kefu's chat logic costs. Between the two rows
this stack sits where any relay that stores before delivering must: no authentication,
no acks, no fan-out to several sockets or consoles, no conversation state.
A pair of sockets is one conversation, created while the pair's first socket opens, so
before any frame flows.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import WSMsgType, web

from bench.stacks.aiohttp_relay import arguments, health, serve
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.store.database import Database
from kefu.store.repositories import Repositories
from kefu.store.sqlite_writer import SqliteMessageWriter

CONNS = web.AppKey("conns", dict[str, web.WebSocketResponse])
CONVERSATIONS = web.AppKey("conversations", dict[frozenset[str], "asyncio.Task[str]"])
DATABASE = web.AppKey("database", Database)
WRITER = web.AppKey("writer", SqliteMessageWriter)


async def _create_conversation(db: Database) -> str:
    repos = Repositories.over(db)
    now = datetime.now(UTC)
    visitor = await repos.visitors.create(now=now)
    return (await repos.conversations.create(visitor.id, now)).id


async def _conversation(app: web.Application, me: str, peer: str) -> str:
    """The pair's conversation; both sockets of a pair opening at once share one."""
    pair = frozenset((me, peer))
    made = app[CONVERSATIONS].get(pair)
    if made is None:
        made = app[CONVERSATIONS][pair] = asyncio.create_task(_create_conversation(app[DATABASE]))
    return await asyncio.shield(made)


async def relay(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    me, peer = request.query["id"], request.query.get("peer", "")
    conversation = await _conversation(app, me, peer)
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    conns, writer = app[CONNS], app[WRITER]
    sender = Sender(SenderKind.VISITOR, me, None)
    numbers = itertools.count()
    conns[me] = ws
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                new = NewMessage(
                    conversation, sender, msg.data, datetime.now(UTC), f"{me}-{next(numbers)}"
                )
                await writer.append(new)
                other = conns.get(peer)
                if other is not None:
                    await other.send_str(msg.data)
    finally:
        conns.pop(me, None)
    return ws


def create_app(data_dir: Path) -> web.Application:
    app = web.Application()
    app[CONNS] = {}
    app[CONVERSATIONS] = {}

    async def store(app: web.Application) -> AsyncIterator[None]:
        async with Database(f"sqlite:///{data_dir / 'kefu.db'}") as db:
            await db.migrate()
            async with SqliteMessageWriter(db) as writer:
                app[DATABASE], app[WRITER] = db, writer
                yield

    app.cleanup_ctx.append(store)
    app.router.add_get("/ws", relay)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory for the SQLite file")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    serve(create_app(args.data), args)


if __name__ == "__main__":
    main()
