"""Deleting what kefu keeps about visitors: on request (a visitor's right to erasure) and
by age (a retention period), through one code path.

What goes: the visitor rows, their conversations with every message, rating and
attachment, and their offline messages; what email holds about them
(``kefu.store.email_erasure``: the mail threads of the addresses they gave or the
request named, every mail of those threads, the files that came by mail). Attachment
files go once no other attachment row points at the same content (files are stored by
content hash and shared). What stays: tickets (the company's own records, keyed by the
CRM's customer, not the visitor; a ticket made from an erased chat loses its link to it
but keeps its text, a mailed one its comments, their author name cleared), the audit
log (ids and counts, no content), events already published.

The rows go in one transaction (``kefu.store.erasure``), so a failure deletes nothing;
files are removed after the commit (a crash in between leaves an unreferenced file for
the next run's sweep of the same hashes, never a row without its file).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kefu.attachments.storage import BlobStore
from kefu.store.erasure import COUNTED, Erased, ErasureRepository

__all__ = ["COUNTED", "Erased", "Eraser"]


class Eraser:
    def __init__(self, rows: ErasureRepository, blobs: BlobStore) -> None:
        self._rows = rows
        self._blobs = blobs

    async def visitors_matching(
        self,
        *,
        visitor_id: str | None = None,
        email: str | None = None,
        external_id: str | None = None,
    ) -> list[str]:
        """Ids of the visitors a request names (an email may have made several)."""
        return await self._rows.visitors_matching(
            visitor_id=visitor_id, email=email, external_id=external_id
        )

    async def open_conversations(self, visitor_ids: Sequence[str]) -> list[str]:
        """Their conversations not yet closed: closed first, so agents see them end."""
        return await self._rows.open_conversations(visitor_ids)

    async def erase_visitors(
        self, visitor_ids: Sequence[str], addresses: Sequence[str] = ()
    ) -> Erased:
        """Everything about these visitors, the rows themselves included, and what
        email holds about them and ``addresses`` (threads, mails, mailed files)."""
        gone = await self._rows.erase_visitors(visitor_ids, addresses)
        gone.files = await self._remove_unreferenced(gone.hashes)
        return gone

    async def erase_older_than(self, cutoff: datetime) -> Erased:
        """Retention: conversations closed before ``cutoff``, offline messages and
        never-sent uploads from before it, and visitors from before it who have nothing
        left."""
        total = await self._rows.erase_older_than(cutoff)
        total.files = await self._remove_unreferenced(total.hashes)
        return total

    async def _remove_unreferenced(self, hashes: set[str]) -> int:
        """Delete the files of contents no attachment row points at any more (safe
        against an upload of the same bytes racing it: ``BlobStore.remove_unreferenced``)."""
        return await self._blobs.remove_unreferenced(hashes, self._rows.referenced)
