"""SQLite's conversation search index, filled just behind the chat commit instead of in it.

FTS5 writes a new segment for every transaction that inserts into it and merges segments
as they pile up, so indexing each chat batch of ~20 messages in its own commit cost ~12 us
a message on the relay's one-token messages and ~22 on chat-like text, with merges that
made one commit in a hundred take 3-17 ms (``bench/README.md``, "Search off the commit").
Indexed 500 at a time the same messages cost half as much, and the chat commit no longer
carries them.

What a user sees is unchanged: a search first catches the index up (``caught_up``), so a
message is found as soon as its sender was answered. In between, the messages committed
and not yet indexed are simply those with ids above the index's newest row, because ids
are drawn as ``max(id) + 1`` on the one writer thread (``kefu.store.sqlite_batch``) and
the erase trigger drops the rows of deleted messages. So nothing needs remembering across
a crash: the first catch-up after a start reads where the index ends and takes the rest.

Everything but ``caught_up`` runs on SQLite's writer thread, between two transactions.
PostgreSQL keeps indexing in the message's own commit: there the GIN index was not what
the commit cost (``bench/README.md``, "Chat relay").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.engine import Connection

from kefu.domain.search_text import fts5_document
from kefu.store.search_schema import SQLITE_INSERT_MESSAGE
from kefu.store.sqlite_transaction import in_transaction

log = logging.getLogger(__name__)

# Index on the writer thread, right after a chat batch, once this many messages wait: a
# bigger batch costs less per message but holds the next chat commit back longer
# (500 one-token messages: ~3 ms; bench/README.md, "Search off the commit").
INDEX_BATCH = 500
# ... or this long after the first of them, whatever the rate (a search does not wait
# for it: it catches the index up itself).
INDEX_DELAY = 0.5
# Messages read back per statement while catching up (a restart may find many).
READ_CHUNK = 2_000

_NEWEST_INDEXED = "SELECT rowid FROM message_search ORDER BY rowid DESC LIMIT 1"
_UNINDEXED = "SELECT id, body FROM messages WHERE id > ? ORDER BY id LIMIT ?"

Post = Callable[[Callable[[Connection], bool]], None]


class SqliteSearchIndexer:
    """Owned by ``kefu.store.database.Database`` on SQLite; ``post`` queues a job on its
    writer thread."""

    def __init__(self, post: Post) -> None:
        self._post = post
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        # Every message up to this id is indexed; None: not known yet, ask the index.
        self._upto: int | None = None
        # Messages committed since the last catch-up (writer thread only; read on the
        # loop as a hint, which is safe: a stale read only costs one writer hop).
        self._waiting = 0
        self._armed = False  # a timed catch-up is scheduled (writer thread only)
        self.indexed = 0  # messages given to the index by this process (tests, curious)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the timed catch-ups are scheduled on (``Database.__aenter__``)."""
        self._loop = loop
        self._closed = False

    def close(self) -> None:
        """On the loop, before the writer thread stops: no timed catch-up after this."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def waiting(self) -> int:
        """Messages committed and not yet indexed, as far as this process knows."""
        return self._waiting

    async def caught_up(self) -> None:
        """Index every committed message before a search reads the index. Never raises:
        if indexing fails (logged), the search runs on the index as it is."""
        if self._waiting == 0 and self._upto is not None:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def job(conn: Connection) -> bool:
            broken = self._catch_up(conn)
            loop.call_soon_threadsafe(_finish, done)
            return broken

        self._post(job)
        await done

    # ---- on the writer thread ------------------------------------------------------------

    def committed(self, first_id: int, count: int) -> None:
        """``count`` messages were committed with ids from ``first_id`` on. Called before
        their senders are answered, so a search they start next finds them waiting."""
        if self._upto is not None and first_id <= self._upto:
            # The newest messages were erased and their ids drawn again: index from here.
            self._upto = first_id - 1
        self._waiting += count

    def after_commit(self, conn: Connection) -> bool:
        """After a chat batch was answered: catch up now if enough wait, else make sure a
        timed catch-up is coming. True when the connection failed."""
        if self._waiting >= INDEX_BATCH:
            return self._catch_up(conn)
        if self._waiting and not self._armed and self._loop is not None and not self._closed:
            self._armed = True
            try:
                self._loop.call_soon_threadsafe(self._arm)
            except RuntimeError:  # the loop closed: the next start catches up
                self._armed = False
        return False

    def _timed(self, conn: Connection) -> bool:
        self._armed = False
        return self._catch_up(conn) if self._waiting else False

    def _catch_up(self, conn: Connection) -> bool:
        try:
            upto, indexed = in_transaction(conn, self._index)
        except Exception:
            # Not the chat's failure: its messages are committed. The next catch-up reads
            # where the index ends and tries again.
            log.warning("indexing messages for search failed", exc_info=True)
            self._upto = None
            return True
        self._upto = upto
        self._waiting = 0
        self.indexed += indexed
        return False

    def _index(self, conn: Connection) -> tuple[int, int]:
        raw = conn.connection.driver_connection
        if raw is None:
            raise RuntimeError("the SQLite writer lost its connection")
        cursor = raw.cursor()
        try:
            upto = self._upto
            if upto is None:
                newest = cursor.execute(_NEWEST_INDEXED).fetchone()
                upto = newest[0] if newest is not None else 0
            indexed = 0
            while rows := cursor.execute(_UNINDEXED, (upto, READ_CHUNK)).fetchall():
                docs = [(mid, doc) for mid, body in rows if (doc := fts5_document(body))]
                cursor.executemany(SQLITE_INSERT_MESSAGE, docs)
                indexed += len(docs)
                upto = rows[-1][0]
        finally:
            cursor.close()
        return upto, indexed

    # ---- on the loop -----------------------------------------------------------------------

    def _arm(self) -> None:
        if self._closed or self._loop is None:
            self._armed = False
            return
        self._timer = self._loop.call_later(INDEX_DELAY, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if not self._closed:
            self._post(self._timed)


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
