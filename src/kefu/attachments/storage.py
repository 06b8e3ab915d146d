"""Content-addressed blobs under ``$KEFU_DATA_DIR/attachments/``.

A file is stored at ``<sha256[:2]>/<sha256>``: the same photo sent twice is stored once,
a path can never be chosen by a client, and a written blob never changes. Writes go to a
temporary file first and are renamed into place, so a reader never sees half a file.
Disk work runs in a thread: hashing and writing 10 MiB would stall the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise ValueError("not a sha256 hex digest")
        return self._root / sha256[:2] / sha256

    async def put(self, data: bytes) -> str:
        """Store ``data``; returns its sha256 hex digest."""
        return await asyncio.to_thread(self._put, data)

    def _put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest
