"""Upload, authorise and resolve attachments.

Who may read one: its uploader (to preview before sending), and once a message carries
it, whoever may read that conversation (``ChatService.accessible``). Who may send one: its
uploader only, once. Everyone else gets 404, so ids leak nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from kefu.attachments.sniff import clean_name, sniff
from kefu.attachments.storage import BlobStore
from kefu.chat.principal import Principal
from kefu.config import AttachmentSettings
from kefu.domain.models import Attachment
from kefu.errors import BadInput, KefuError, NotFound, TooLarge
from kefu.ports import Clock
from kefu.store.attachments import AttachmentRepository

# Attachments one message may carry: a handful of photos, bounded so one frame cannot
# fan out into an unbounded query.
MAX_PER_MESSAGE = 10


class UnsupportedType(KefuError):
    code = "unsupported_type"
    status = 415


class AttachmentService:
    def __init__(
        self,
        repo: AttachmentRepository,
        blobs: BlobStore,
        clock: Clock,
        settings: AttachmentSettings,
    ) -> None:
        self._repo = repo
        self._blobs = blobs
        self._clock = clock
        self._settings = settings

    @property
    def max_bytes(self) -> int:
        return self._settings.max_bytes

    async def upload(self, uploader: Principal, name: str | None, data: bytes) -> Attachment:
        if not data:
            raise BadInput("the file is empty", code="empty_file")
        if len(data) > self._settings.max_bytes:
            raise TooLarge(
                f"attachments are limited to {self._settings.max_bytes} bytes",
                code="attachment_too_large",
            )
        content_type = sniff(data)
        if content_type is None or content_type not in self._settings.allowed_types:
            allowed = ", ".join(self._settings.allowed_types)
            raise UnsupportedType(f"this kind of file is not accepted (allowed: {allowed})")
        digest = await self._blobs.put(data)
        attachment = await self._repo.create(
            sha256=digest,
            name=clean_name(name, content_type),
            content_type=content_type,
            size=len(data),
            uploader=uploader.key,
            now=self._clock.now(),
        )
        # An erasure may have removed the same content's file between the put (which found
        # it there) and the row: now that the row exists no erasure removes it, so put again.
        if not await asyncio.to_thread(self._blobs.path(digest).exists):
            await self._blobs.put(data)
        return attachment

    async def for_sending(self, sender: Principal, ids: Sequence[str]) -> list[Attachment]:
        """The sender's own, not yet sent attachments named by ``ids``, in that order."""
        if len(ids) > MAX_PER_MESSAGE:
            raise BadInput(
                f"a message carries at most {MAX_PER_MESSAGE} attachments",
                code="too_many_attachments",
            )
        unique = list(dict.fromkeys(ids))
        found = {a.id: a for a in await self._repo.many(unique)}
        result = []
        for attachment_id in unique:
            attachment = found.get(attachment_id)
            if attachment is None or attachment.uploader != sender.key:
                raise NotFound(
                    f"no attachment {attachment_id!r} of yours", code="attachment_not_found"
                )
            if attachment.message_id is not None:
                raise BadInput(
                    f"attachment {attachment_id!r} was already sent", code="attachment_already_sent"
                )
            result.append(attachment)
        return result

    async def link(
        self,
        sender: Principal,
        attachments: Sequence[Attachment],
        conversation_id: str,
        message_id: int,
    ) -> None:
        await self._repo.link([a.id for a in attachments], sender.key, conversation_id, message_id)

    async def get(self, attachment_id: str) -> Attachment:
        attachment = await self._repo.get(attachment_id)
        if attachment is None:
            raise NotFound("no such attachment", code="attachment_not_found")
        return attachment

    def path(self, attachment: Attachment) -> Path:
        return self._blobs.path(attachment.sha256)
