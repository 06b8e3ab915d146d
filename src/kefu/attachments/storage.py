"""Content-addressed blobs under ``$KEFU_DATA_DIR/attachments/``.

A file is stored at ``<sha256[:2]>/<sha256>``: the same photo sent twice is stored once,
a path can never be chosen by a client, and a written blob never changes.

An upload is streamed, never held whole in memory: its chunks are hashed while they are
written to a temporary file in ``.incoming/`` (the same file system, so the final rename
is atomic), and the size limit is enforced as the bytes arrive. Only once its row is
committed is the file renamed into place (:meth:`BlobStore.place`); that order is what
lets :meth:`BlobStore.remove_unreferenced` delete a shared content safely while another
upload of the same bytes races it. Disk work runs in a thread: hashing and writing 10 MiB
would stall the event loop; only reads of what the page cache holds run in the loop
(:meth:`BlobStore.read`), since those never wait for the disk.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

# Bytes gathered before one thread hop writes and hashes them: a hop per network chunk
# (often a few KiB) would cost more than the work; 256 KiB bounds the memory per upload.
# 1 MiB saved little CPU and left the server 6-10 MiB above its resting RSS during a
# 200 MiB gRPC upload (bench grpc_attachments), against 2-5 MiB with 256 KiB.
WRITE_BATCH_BYTES = 256 * 1024
# Bytes written between two requests to the disk to store what it has so far (in a
# thread of their own, not waited for): the fsync that ends an upload then waits for
# these last bytes, not the whole file (a 200 MiB upload's final fsync took 60-100 ms
# on the bench host, its whole transfer a few hundred ms).
SYNC_EVERY_BYTES = 16 * 1024 * 1024
# Bytes of the start kept in memory for sniffing the type (kefu.attachments.sniff reads
# up to 8 KiB, plus one to tell a cut multi-byte character from the file's end).
HEAD_BYTES = 8192 + 1
INCOMING = ".incoming"
# preadv's flag to read only what the page cache holds (Linux >= 4.14); None elsewhere.
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None) if hasattr(os, "preadv") else None
T = TypeVar("T")
# A piece of an upload: bytes, or a view into a received message (gRPC, no copy made).
Chunk = bytes | memoryview


class TooBig(Exception):
    """The stream passed ``limit`` bytes; what was written of it is already deleted."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Incoming:
    """An upload on disk under a temporary name, hashed, not yet in its place."""

    path: Path
    sha256: str
    size: int
    head: bytes


Referenced = Callable[[set[str]], Awaitable[set[str]]]


class BlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise ValueError("not a sha256 hex digest")
        return self._root / sha256[:2] / sha256

    @property
    def incoming_dir(self) -> Path:
        return self._root / INCOMING

    async def receive(self, chunks: AsyncIterable[Chunk], limit: int) -> Incoming:
        """Write ``chunks`` to a temporary file, hashing them; :class:`TooBig` past
        ``limit`` bytes (read no further). The file is deleted on any failure."""
        fd, name = await asyncio.to_thread(self._open_temp)
        tmp = Path(name)
        digest = hashlib.sha256()
        size = 0
        head = b""
        pending: list[Chunk] = []
        pending_bytes = 0
        unsynced = 0
        # One batch is written (and hashed) in a thread while the next one arrives: the
        # disk and the network overlap, and memory holds at most two batches. Every
        # SYNC_EVERY_BYTES another thread asks the disk for what is written so far, so
        # the fsync before the row is committed waits for the last few MiB only.
        writing: asyncio.Future[None] | None = None
        syncing: asyncio.Future[None] | None = None
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    async for chunk in chunks:
                        size += len(chunk)
                        if size > limit:
                            raise TooBig(limit)
                        if len(head) < HEAD_BYTES:
                            head += chunk[: HEAD_BYTES - len(head)]
                        pending.append(chunk)
                        pending_bytes += len(chunk)
                        if pending_bytes < WRITE_BATCH_BYTES:
                            continue
                        if writing is not None:
                            await writing
                        writing = _in_thread(_write, out, digest.update, pending)
                        unsynced += pending_bytes
                        pending, pending_bytes = [], 0
                        if unsynced >= SYNC_EVERY_BYTES and (syncing is None or syncing.done()):
                            if syncing is not None:
                                await syncing  # done: raises what the disk reported
                            syncing = _in_thread(os.fdatasync, fd)
                            unsynced = 0
                    if writing is not None:
                        await writing
                    if syncing is not None:
                        await syncing
                    await asyncio.to_thread(_write, out, digest.update, pending, True)
                finally:
                    # The file closes below: let the threads finish with it first.
                    busy = [f for f in (writing, syncing) if f is not None and not f.done()]
                    if busy:
                        await asyncio.wait(busy)
        except BaseException:
            await _unlink(tmp)
            raise
        return Incoming(path=tmp, sha256=digest.hexdigest(), size=size, head=head)

    async def place(self, incoming: Incoming) -> None:
        """Move a received file to its content address (replacing identical bytes)."""
        target = self.path(incoming.sha256)
        await asyncio.to_thread(_move, incoming.path, target)

    async def discard(self, incoming: Incoming) -> None:
        await _unlink(incoming.path)

    async def read(self, sha256: str, chunk_bytes: int) -> AsyncIterator[memoryview]:
        """The blob's bytes, up to ``chunk_bytes`` at a time, as views into one buffer that
        the next chunk overwrites: send or copy each before asking for the next.

        What the page cache holds (a file just uploaded or read, the usual case) is read
        in the event loop with ``RWF_NOWAIT``, which copies cached pages and never waits
        for the disk; only what it does not hold is read in a thread. A thread hop per
        chunk cost more than the copy (bench grpc_attachments: a third of the server's
        CPU per download), and one reused buffer replaces a new chunk per read.
        """
        fd = await asyncio.to_thread(os.open, self.path(sha256), os.O_RDONLY | os.O_CLOEXEC)
        buffer = memoryview(bytearray(chunk_bytes))
        offset = 0
        waiting: asyncio.Future[int] | None = None
        try:
            while True:
                count = _read_cached(fd, buffer, offset)
                if count is None:
                    waiting = _in_thread(os.preadv, fd, [buffer], offset)
                    count = await waiting
                    waiting = None
                if not count:
                    return
                offset += count
                yield buffer[:count]
        finally:
            if waiting is not None and not waiting.done():
                await asyncio.wait([waiting])  # the thread still fills the buffer
            await asyncio.to_thread(os.close, fd)

    async def remove_unreferenced(self, digests: set[str], referenced: Referenced) -> int:
        """Delete the files of ``digests`` that no attachment row points at.

        ``referenced`` answers which of some digests rows still point at. A file is first
        renamed aside, then the rows are asked again, then it is deleted or put back: an
        upload of the same bytes commits its row before placing its file, so it either
        shows in that second answer (and the file comes back) or places its own file after
        this one moved away. A plain check-then-delete could delete the file under a row
        committed between the two.
        """
        candidates = {d for d in digests if _is_digest(d)} - await referenced(digests)
        if not candidates:
            return 0
        aside = await asyncio.to_thread(self._set_aside, candidates)
        if not aside:
            return 0
        back = await referenced(set(aside))
        return await asyncio.to_thread(self._settle, aside, back)

    async def prune_incoming(self, before: float) -> int:
        """Delete temporary files last written before ``before`` (Unix seconds): what a
        crash mid-upload left behind. A live upload writes far more often than that."""
        return await asyncio.to_thread(self._prune_incoming, before)

    def _prune_incoming(self, before: float) -> int:
        removed = 0
        try:
            entries = list(os.scandir(self.incoming_dir))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < before:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _open_temp(self) -> tuple[int, str]:
        self.incoming_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return tempfile.mkstemp(dir=self.incoming_dir, prefix="upload-")

    def _set_aside(self, digests: set[str]) -> dict[str, Path]:
        token = secrets.token_hex(4)
        aside = {}
        for digest in sorted(digests):
            target = self.path(digest)
            gone = target.with_name(f".gone-{token}-{digest}")
            try:
                os.rename(target, gone)
            except FileNotFoundError:
                continue
            aside[digest] = gone
        return aside

    def _settle(self, aside: dict[str, Path], back: set[str]) -> int:
        removed = 0
        for digest, gone in aside.items():
            if digest in back:
                os.replace(gone, self.path(digest))
            else:
                gone.unlink(missing_ok=True)
                removed += 1
        return removed


def _read_cached(fd: int, buffer: memoryview, offset: int) -> int | None:
    """Bytes read into ``buffer`` at ``offset`` from the page cache alone (0 at the end);
    None when that would wait for the disk, or the system cannot tell (no
    ``RWF_NOWAIT``): read in a thread then."""
    if _NOWAIT is None:
        return None
    try:
        return os.preadv(fd, [buffer], offset, _NOWAIT)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise
        return None


def _in_thread(func: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """``func(*args)`` started in the default executor, awaited later by the caller."""
    return asyncio.ensure_future(asyncio.to_thread(func, *args))


async def _unlink(path: Path) -> None:
    """Delete ``path`` even if the caller is being cancelled: cleanup runs in ``except``
    blocks of uploads whose client went away (the server cancels their task, and a
    second cancel while the thread hop waits would skip the unlink). Shielded, the
    unlink finishes; the cancel still reaches the caller.

    Handed to the executor here and now, not from a task of its own: at shutdown the
    loop cancels every task left, and a task that had not yet run would never have
    started the unlink (a stalled upload's file was left in ``.incoming`` after a
    SIGTERM). The loop's close waits for the executor's jobs."""
    unlinking = asyncio.get_running_loop().run_in_executor(None, path.unlink, True)
    await asyncio.shield(unlinking)


def _write(
    out: IO[bytes], hash_update: Callable[[Chunk], None], chunks: list[Chunk], final: bool = False
) -> None:
    for chunk in chunks:
        hash_update(chunk)
        out.write(chunk)
    if final:
        out.flush()
        os.fsync(out.fileno())


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.replace(source, target)


def _is_digest(value: str) -> bool:
    return len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)
