"""``BlobStore.read`` gives back exactly the stored bytes, whether the page cache holds
them (read in the loop with ``RWF_NOWAIT``) or not (read in a thread), and its chunks
are views into one reused buffer."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kefu.attachments import storage
from kefu.attachments.storage import BlobStore

CHUNK = 64 * 1024


def _store(tmp_path: Path, size: int) -> tuple[BlobStore, str, bytes]:
    """A blob of ``size`` random bytes placed at its content address."""
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()
    blobs = BlobStore(tmp_path / "attachments")
    path = blobs.path(digest)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return blobs, digest, data


async def _read_all(blobs: BlobStore, digest: str) -> list[bytes]:
    return [bytes(chunk) async for chunk in blobs.read(digest, CHUNK)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 5 * CHUNK + 17])
async def test_the_bytes_read_are_the_bytes_stored(tmp_path: Path, size: int) -> None:
    blobs, digest, data = _store(tmp_path, size)
    chunks = await _read_all(blobs, digest)
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= CHUNK for c in chunks)


async def test_without_rwf_nowait_every_chunk_is_read_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Systems without ``RWF_NOWAIT`` (or ``preadv``) read as before: in a thread."""
    monkeypatch.setattr(storage, "_NOWAIT", None)
    blobs, digest, data = _store(tmp_path, 3 * CHUNK + 5)
    assert b"".join(await _read_all(blobs, digest)) == data


async def test_a_file_out_of_the_page_cache_is_read_whole(tmp_path: Path) -> None:
    """Pages dropped from the cache (as for a file not read for a long time) are read
    in a thread: none is skipped, none is read twice."""
    blobs, digest, data = _store(tmp_path, 4 * CHUNK + 3)
    fd = os.open(blobs.path(digest), os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    assert b"".join(await _read_all(blobs, digest)) == data


async def test_each_chunk_is_a_view_the_next_one_overwrites(tmp_path: Path) -> None:
    """The contract callers rely on: copy or send a chunk before asking for the next."""
    blobs, digest, data = _store(tmp_path, 2 * CHUNK)
    reader = blobs.read(digest, CHUNK)
    first = await anext(reader)
    assert bytes(first) == data[:CHUNK]
    await anext(reader)
    assert bytes(first) == data[CHUNK:]  # the same buffer, refilled
    await reader.aclose()


async def test_stopping_early_closes_the_file(tmp_path: Path) -> None:
    blobs, digest, _ = _store(tmp_path, 3 * CHUNK)
    reader = blobs.read(digest, CHUNK)
    await anext(reader)
    assert str(blobs.path(digest)) in _open_files()
    await reader.aclose()
    assert str(blobs.path(digest)) not in _open_files()


def _open_files() -> set[str]:
    """What this process's descriptors point at."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            out.add(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:
            continue  # closed meanwhile (listdir's own descriptor)
    return out
