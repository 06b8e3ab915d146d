"""The engine owner: URL normalisation, SQLite pragmas, migrations at start.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives a process crash,
and readers never block the single writer (the message group-commit task). Checkpoints
(copying the WAL back into the database, with an fsync or two) run on a thread of their
own rather than inside whichever commit crossed SQLite's 1,000-page mark: on a disk whose
fsync takes ~10 ms that commit, and every chat message queued behind it, would wait.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kefu.domain.search_text import text_matches
from kefu.errors import ConfigError
from kefu.store.migrate import upgrade_to_head
from kefu.store.private_files import private_sqlite_file
from kefu.store.search_indexer import SqliteSearchIndexer
from kefu.store.sqlite_threads import SqliteWorkerThreads
from kefu.store.sqlite_transaction import in_transaction

# Arbitrary but fixed advisory-lock key ("kefu" in ASCII) shared by every node.
MIGRATION_LOCK = 0x6B656675
# How often the checkpointer copies the WAL back into the database file; between two
# checkpoints the WAL grows by what was committed meanwhile (a few MB at full chat load).
CHECKPOINT_SECONDS = 1.0
# After a checkpoint has emptied it, a WAL file larger than this is cut back to it. Above
# what a busy chat's WAL reaches between two restarts (~130 MB at 10,000 msg/s: 32 MB
# plus a second of commits), because the cut is made by the writer thread, in the first
# commit after the WAL starts over: with 64 MB that commit truncated the file, and on a
# file system mounted with ``discard`` waited for the freed blocks' discard, every
# second, and the next commits allocated the blocks again (relay at 7,500 msg/s, 21:35
# UTC 2026-12-07: p99 20-26 ms with 64 MB, 12-17 ms with 256 MB in 6 of 7 steps).
WAL_SIZE_LIMIT = 256 * 1024 * 1024
# A WAL holding more than this asks the writer thread to finish the checkpoint (see
# ``_SqliteCheckpointer``): under a steady stream of commits the WAL otherwise never
# starts over and grows without bound (141 MB in 80 s of the relay bench at 1,000 msg/s,
# 2026-12-07), and each commit that grows it waits for the file system to allocate.
WAL_RESTART_BYTES = 32 * 1024 * 1024
# Before the writer is asked to finish, the checkpointer copies what came in during its
# own round, again and again (at most this many times) until less than this is left:
# the writer's share, copied while no message commits, is then a few ms of work instead
# of ~10-27 ms (at 10,000 msg/s a round takes ~90 ms, meanwhile ~10 MB of WAL arrive).
CATCH_UP_ROUNDS = 4
CATCH_UP_BYTES = 1024 * 1024
log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


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
        self._writer: _SqliteWriterThread | None = None
        self._checkpointer: _SqliteCheckpointer | None = None
        # SQLite's search index is filled behind the chat commit (kefu.store.search_indexer).
        self.search_indexer: SqliteSearchIndexer | None = None
        # aiosqlite's threads, waited for on exit (kefu.store.sqlite_threads).
        self._reader_threads: SqliteWorkerThreads | None = None
        if self.dialect == "sqlite":
            self._reader_threads = SqliteWorkerThreads(self.engine)
            self._writer = _SqliteWriterThread(self.url.replace("sqlite+aiosqlite", "sqlite", 1))
            self.search_indexer = SqliteSearchIndexer(self._writer.post)
            path = _sqlite_path(self.url)
            if path is not None:
                self._checkpointer = _SqliteCheckpointer(
                    path, on_overgrown=self._writer.finish_checkpoint
                )

    async def __aenter__(self) -> Database:
        if self.search_indexer is not None:
            self.search_indexer.bind(asyncio.get_running_loop())
        if self._checkpointer is not None:
            self._checkpointer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.search_indexer is not None:
            self.search_indexer.close()
        if self._writer is not None:
            self._writer.close()
        await self.engine.dispose()
        if self._reader_threads is not None:
            await self._reader_threads.finished()
        if self._checkpointer is not None:
            self._checkpointer.stop()

    def connect(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (autobegin; rolled back on exit)."""
        return self.engine.connect()

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection inside one transaction, committed on clean exit."""
        return self.engine.begin()

    async def run_in_transaction(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run synchronous ``work(conn, …)`` inside one transaction, in one hop.

        SQLite: on the single writer thread (SQLite has one writer anyway). PostgreSQL: on
        the async engine through ``run_sync``, asyncpg underneath.
        """
        if self._writer is not None:
            return await self._writer.run(work, *args, **kwargs)
        async with self.engine.begin() as conn:
            return await conn.run_sync(work, *args, **kwargs)

    def post_to_writer(self, work: Callable[[Connection], bool]) -> None:
        """SQLite only: queue ``work(conn)`` on the writer thread, behind the jobs already
        there, with no answer and no transaction around it. ``work`` begins its own
        (``in_transaction``), reports back through the loop itself, and returns True when
        the connection failed and a fresh one should serve the next job."""
        if self._writer is None:
            raise RuntimeError("post_to_writer needs SQLite's writer thread")
        self._writer.post(work)

    async def search_caught_up(self) -> None:
        """Before reading the conversation search index: on SQLite, index what the chat
        committed since the last catch-up (kefu.store.search_indexer); PostgreSQL indexes
        in the message's own commit."""
        if self.search_indexer is not None:
            await self.search_indexer.caught_up()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def migrate(self) -> list[str]:
        """Apply pending Alembic revisions; returns those applied."""
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Nodes starting together migrate one at a time; the rest then find
                # nothing pending. Released at commit.
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            return await conn.run_sync(upgrade_to_head)


def _sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    path = url.split("///", 1)[1].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def _make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            private_sqlite_file(Path(path))  # 0600, and so its -wal and -shm
        engine = create_async_engine(url, pool_size=8, max_overflow=0)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class _SqliteWriterThread:
    """One thread owning one synchronous SQLite connection for write transactions.

    A thread and queue of its own rather than ``run_in_executor``: at one message per
    commit (a quiet hour) the executor's futures and callbacks, and SQLAlchemy's
    transaction bookkeeping, cost more than SQLite's commit itself (~350 vs ~80 us per
    commit measured here); this path measured ~240. The transaction is the driver's
    own ``BEGIN IMMEDIATE`` … ``COMMIT`` (the connection runs in autocommit mode), so the
    write lock is taken up front and a busy store is waited for here, off the loop.
    """

    def __init__(self, url: str) -> None:
        self._engine = create_engine(
            url, poolclass=NullPool, connect_args={"isolation_level": None}
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._jobs: queue.SimpleQueue[_Job | Callable[[Connection], bool] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._checkpoint_queued = False
        self.checkpoints_finished = 0  # by ``finish_checkpoint``: for tests and the curious

    async def run(
        self, work: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        self._ensure_thread()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(loop, future, lambda conn: work(conn, *args, **kwargs)))
        return await future

    def post(self, work: Callable[[Connection], bool]) -> None:
        self._ensure_thread()
        self._jobs.put(work)

    def finish_checkpoint(self) -> None:
        """Checkpoint once on the writer thread, between two transactions (any thread).

        The checkpointer's own PASSIVE rounds run beside the writer, so under a steady
        stream of commits each ends with newer frames in the WAL than it copied; SQLite
        only starts the WAL over from its beginning once a checkpoint has copied every
        frame, so the WAL would grow for as long as the stream lasts. Here no commit
        can come between: after the checkpointer's round the frames left are those of
        the last moment, quick to copy, and the next commit starts the WAL over (unless
        a reader still holds an older snapshot; then the next round tries again).
        Never starts the thread: with no writer thread, nothing writes that fast."""
        with self._lock:
            if self._thread is None or self._checkpoint_queued:
                return
            self._checkpoint_queued = True
        self._jobs.put(self._checkpoint_here)

    def _checkpoint_here(self, conn: Connection) -> bool:
        self._checkpoint_queued = False
        raw = conn.connection.driver_connection
        if raw is None:
            return True  # a connection without its driver: take a fresh one
        try:
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            log.warning("SQLite checkpoint on the writer thread failed", exc_info=True)
            return True
        self.checkpoints_finished += 1
        return False

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="kefu-sqlite-writer", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        conn: Connection | None = None
        try:
            while (job := self._jobs.get()) is not None:
                if conn is None:
                    conn = self._engine.connect()
                if not isinstance(job, _Job):  # posted: it answers for itself
                    if _posted(job, conn):
                        conn.close()
                        conn = None
                    continue
                try:
                    result = in_transaction(conn, job.work)
                except BaseException as exc:  # handed to the awaiting task
                    conn.close()  # a fresh connection next time, in a known state
                    conn = None
                    job.loop.call_soon_threadsafe(_settle, job.future, None, exc)
                else:
                    job.loop.call_soon_threadsafe(_settle, job.future, result, None)
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join()
        self._engine.dispose()


@dataclass(frozen=True, slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    work: Callable[[Connection], Any]


def _posted(work: Callable[[Connection], bool], conn: Connection) -> bool:
    """Run a posted job; True: the connection should be replaced."""
    try:
        return work(conn)
    except BaseException:  # a bug in the job: it cannot answer anyone, so say it here
        log.exception("a job on the SQLite writer thread failed")
        return True


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


class _SqliteCheckpointer:
    """Checkpoints the WAL every ``CHECKPOINT_SECONDS`` on a thread and connection of its
    own, so no commit ever pays for one (every connection kefu opens has SQLite's automatic
    checkpoint turned off, see ``_sqlite_pragmas``).

    PASSIVE checkpoints never wait for, nor block, readers or the writer: what a reader
    still needs stays in the WAL until the next round. The sqlite3 module releases the
    GIL while SQLite works, so the event loop runs on during the fsync. When a round
    leaves more than ``WAL_RESTART_BYTES`` in the WAL, ``on_overgrown`` is called so
    the writer can copy the rest itself (``_SqliteWriterThread.finish_checkpoint``).
    """

    def __init__(
        self,
        path: str,
        every: float = CHECKPOINT_SECONDS,
        on_overgrown: Callable[[], None] | None = None,
    ) -> None:
        self._path = path
        self._every = every
        self._on_overgrown = on_overgrown
        self._frame_bytes = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name="kefu-sqlite-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()
        # Leave the database file whole and the WAL empty for whoever opens it next.
        self._final()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stopping.wait(self._every):
                if conn is None:
                    conn = self._connect()
                if conn is None:
                    continue
                frames = self._checkpoint(conn, "PASSIVE")
                if frames is None:
                    conn.close()
                    conn = None
                elif frames * self._frame_bytes > WAL_RESTART_BYTES and self._on_overgrown:
                    self._catch_up(conn, frames)
                    self._on_overgrown()
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> sqlite3.Connection | None:
        try:
            conn = sqlite3.connect(self._path, timeout=5.0, check_same_thread=False)
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            # A WAL frame is a page and its 24-byte header.
            self._frame_bytes = conn.execute("PRAGMA page_size").fetchone()[0] + 24
            return conn
        except sqlite3.Error:
            log.warning("SQLite checkpointer cannot open %s", self._path, exc_info=True)
            return None

    def _catch_up(self, conn: sqlite3.Connection, frames: int) -> None:
        """Copy what was committed during the last round, again, until a round finds
        less than ``CATCH_UP_BYTES`` new: a round copies the frames that were in the
        WAL when it began, so a round is usually shorter than the one before (copying
        outruns a chat's commits; each round's fsyncs cost a few ms whatever it copies)
        and the writer thread is left fewer frames (measured: 6-15 ms of work, not 9-27). Off
        the writer, like every round here: no commit waits for these."""
        for _ in range(CATCH_UP_ROUNDS):
            again = self._checkpoint(conn, "PASSIVE")
            if again is None:
                return
            found, frames = again - frames, again  # negative: the WAL started over
            if found * self._frame_bytes <= CATCH_UP_BYTES:
                return

    def _final(self) -> None:
        conn = self._connect()
        if conn is not None:
            self._checkpoint(conn, "TRUNCATE")
            conn.close()

    @staticmethod
    def _checkpoint(conn: sqlite3.Connection, mode: str) -> int | None:
        """Frames in the WAL when the checkpoint began, all copied unless a reader
        still needed some (the file only starts over once every frame is); None when
        it failed."""
        try:
            _busy, frames, _copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return max(int(frames), 0)  # -1: not in WAL mode
        except sqlite3.Error:
            log.warning("SQLite checkpoint (%s) failed; trying again later", mode, exc_info=True)
            return None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A second writer (admin change during a message burst) waits instead of failing.
    cursor.execute("PRAGMA busy_timeout=5000")
    # The checkpointer thread does this work (see _SqliteCheckpointer).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    # Whichever connection starts the WAL over cuts an overgrown file back to this.
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.close()
    # A search walking conversations checks their messages with kefu's own terms
    # (kefu.store.conversation_search): one FTS5 lookup per message costs ~0.3 ms.
    dbapi_connection.create_function("kefu_search_match", 2, text_matches, deterministic=True)


__all__ = ["AsyncConnection", "Database", "async_url"]
