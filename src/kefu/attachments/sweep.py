"""Deleting uploads that no message ever carried, some hours after upload.

Without it every upload a visitor drops (or a script floods) is kept forever. Each node
runs it periodically (``attachments.sweep_seconds``); on PostgreSQL one node at a time
does the work, in chunks (bounded locks however large the backlog). Files go after the
rows, and only contents no row points at any more (files are shared by content), by
:meth:`BlobStore.remove_unreferenced`, which is safe against a racing upload of the same
bytes. A send racing the sweep is covered by the claim (``AttachmentService.for_sending``).
Temporary files a crash left in ``.incoming/`` go at the same age.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from kefu.attachments.storage import BlobStore
from kefu.ports import Clock
from kefu.store.attachments import AttachmentRepository

log = logging.getLogger(__name__)

# Rows deleted per transaction: bounded locks and undo, however far behind the sweep is.
SWEEP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Swept:
    attachments: int
    files: int


class UnsentSweep:
    def __init__(
        self, repo: AttachmentRepository, blobs: BlobStore, clock: Clock, max_age: timedelta
    ) -> None:
        self._repo = repo
        self._blobs = blobs
        self._clock = clock
        self._max_age = max_age

    async def run_once(self) -> Swept:
        cutoff = self._clock.now() - self._max_age
        deleted = 0
        hashes: set[str] = set()
        while True:
            chunk = await self._repo.delete_unsent(cutoff, SWEEP_CHUNK)
            if chunk is None:  # another node is sweeping
                break
            count, contents = chunk
            deleted += count
            hashes |= contents
            if count < SWEEP_CHUNK:
                break
        files = await self._blobs.remove_unreferenced(hashes, self._repo.referenced)
        files += await self._blobs.prune_incoming(cutoff.timestamp())
        if deleted:
            log.info("deleted %d unsent uploads (%d files)", deleted, files)
        return Swept(attachments=deleted, files=files)
