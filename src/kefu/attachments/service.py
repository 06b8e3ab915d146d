"""Upload, authorise and resolve attachments.

Who may read one: its uploader (to preview before sending), and once a message carries
it, whoever may read that conversation (``ChatService.accessible``). Who may send one: its
uploader only, once. Everyone else gets 404, so ids leak nothing. Browsers read them
through signed links (``kefu.attachments.links``) handed out in those same payloads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from pathlib import Path

from kefu.attachments.links import DownloadLinks
from kefu.attachments.settings import AttachmentSettings
from kefu.attachments.sniff import clean_name, sniff
from kefu.attachments.storage import BlobStore, Chunk, Incoming, TooBig
from kefu.auth.api_tokens import Machine
from kefu.auth.principal import Principal
from kefu.domain.models import Attachment
from kefu.domain.upload_quota import Quota
from kefu.errors import BadInput, KefuError, NotFound, TooLarge
from kefu.ports import Clock
from kefu.store.attachments import AttachmentRepository

# Attachments one message may carry: a handful of photos, bounded so one frame cannot
# fan out into an unbounded query.
MAX_PER_MESSAGE = 10

# Who uploads: a visitor or an agent (REST, WebSocket), or a department system's API
# token (gRPC, ``kefu.api.grpc.attachments``). Agents have no quota; the others do.
Uploader = Principal | Machine


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
        links: DownloadLinks,
    ) -> None:
        self._repo = repo
        self._blobs = blobs
        self._clock = clock
        self._settings = settings
        self._links = links

    @property
    def max_bytes(self) -> int:
        return self._settings.max_bytes

    def download_url(self, attachment: Attachment) -> str:
        """A signed link that opens this one attachment for a short while."""
        return self._links.url(attachment.id)

    def verify_link(self, attachment_id: str, exp: str, sig: str) -> None:
        self._links.verify(attachment_id, exp, sig)

    async def upload(
        self,
        uploader: Uploader,
        name: str | None,
        body: AsyncIterable[Chunk],
        *,
        ip: str | None = None,
        declared_size: int | None = None,
    ) -> Attachment:
        """Stream ``body`` to disk and record it; refused uploads leave nothing behind.

        Visitors' uploads count against their quota and their address's (``ip``), an API
        token's against its own; one already over it, or a ``declared_size`` over the
        limit, is refused before the body is read.
        """
        if declared_size is not None and declared_size > self._settings.max_bytes:
            raise TooLarge(
                f"attachments are limited to {self._settings.max_bytes} bytes",
                code="attachment_too_large",
            )
        quotas = self._quotas(uploader, ip)
        await self._repo.check_quotas(quotas, declared_size or 0, self._clock.now())
        try:
            incoming = await self._blobs.receive(body, self._settings.max_bytes)
        except TooBig:
            raise TooLarge(
                f"attachments are limited to {self._settings.max_bytes} bytes",
                code="attachment_too_large",
            ) from None
        try:
            attachment = await self._record(uploader, name, incoming, ip, quotas)
        except BaseException:
            await self._blobs.discard(incoming)
            raise
        try:
            await self._blobs.place(incoming)
        except BaseException:
            await self._repo.delete(attachment.id)
            await self._blobs.discard(incoming)
            raise
        return attachment

    async def keep(self, uploader: str, name: str | None, data: bytes) -> Attachment:
        """Store a file that came with a machine's message (an inbound mail's
        attachment), as ``uploader`` (e.g. ``email:inbound``): the size limit and the
        allowed types apply as to any upload; no quota, since no visitor sent it.
        ``TooLarge``, ``BadInput empty_file`` or ``UnsupportedType`` leave nothing."""

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        try:
            incoming = await self._blobs.receive(chunks(), self._settings.max_bytes)
        except TooBig:
            raise TooLarge(
                f"attachments are limited to {self._settings.max_bytes} bytes",
                code="attachment_too_large",
            ) from None
        try:
            if not incoming.size:
                raise BadInput("the file is empty", code="empty_file")
            content_type = sniff(incoming.head)
            if content_type is None or content_type not in self._settings.allowed_types:
                raise UnsupportedType("this kind of file is not accepted")
            attachment = await self._repo.create(
                sha256=incoming.sha256,
                name=clean_name(name, content_type),
                content_type=content_type,
                size=incoming.size,
                uploader=uploader,
                uploader_ip=None,
                now=self._clock.now(),
                quotas=[],
            )
        except BaseException:
            await self._blobs.discard(incoming)
            raise
        try:
            await self._blobs.place(incoming)
        except BaseException:
            await self._repo.delete(attachment.id)
            await self._blobs.discard(incoming)
            raise
        return attachment

    async def _record(
        self,
        uploader: Uploader,
        name: str | None,
        incoming: Incoming,
        ip: str | None,
        quotas: Sequence[Quota],
    ) -> Attachment:
        if not incoming.size:
            raise BadInput("the file is empty", code="empty_file")
        content_type = sniff(incoming.head)
        if content_type is None or content_type not in self._settings.allowed_types:
            allowed = ", ".join(self._settings.allowed_types)
            raise UnsupportedType(f"this kind of file is not accepted (allowed: {allowed})")
        return await self._repo.create(
            sha256=incoming.sha256,
            name=clean_name(name, content_type),
            content_type=content_type,
            size=incoming.size,
            uploader=uploader.key,
            uploader_ip=ip if isinstance(uploader, Principal) and not uploader.is_agent else None,
            now=self._clock.now(),
            quotas=quotas,
        )

    def _quotas(self, uploader: Uploader, ip: str | None) -> list[Quota]:
        settings = self._settings
        if isinstance(uploader, Machine):
            return [
                Quota(
                    "token",
                    uploader.key,
                    settings.token_files_per_hour,
                    settings.token_bytes_per_hour,
                )
            ]
        if uploader.is_agent:
            return []
        quotas = [
            Quota(
                "visitor",
                uploader.key,
                settings.visitor_files_per_hour,
                settings.visitor_bytes_per_hour,
            )
        ]
        if ip is not None:
            quotas.append(
                Quota("address", ip, settings.ip_files_per_hour, settings.ip_bytes_per_hour)
            )
        return quotas

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
        # Claimed before the message is stored: from now on the unsent-upload sweep spares
        # them. One swept meanwhile fails the send here, before anything is stored.
        if result and await self._repo.claim(unique, sender.key, self._clock.now()) < len(unique):
            raise NotFound("an attachment of this message is gone", code="attachment_not_found")
        return result

    async def link(
        self,
        sender: Uploader,
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

    def read(self, attachment: Attachment, chunk_bytes: int) -> AsyncIterator[memoryview]:
        """The file's bytes, ``chunk_bytes`` at a time, read from disk as they are asked
        for, each a view that the next one overwrites (``BlobStore.read``)."""
        return self._blobs.read(attachment.sha256, chunk_bytes)

    async def remove(self, attachment: Attachment) -> None:
        """Undo an upload whose purpose failed after it was stored (its ticket or
        conversation refused it): the row, and the file unless another row shares it."""
        await asyncio.shield(self._remove(attachment))  # finished even if the caller is cancelled

    async def _remove(self, attachment: Attachment) -> None:
        await self._repo.delete(attachment.id)
        await self._blobs.remove_unreferenced({attachment.sha256}, self._repo.referenced)
