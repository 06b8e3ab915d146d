"""Attachment metadata. The bytes live on disk, content-addressed (``kefu.attachments``);
this table says who uploaded what, under which name, and which message carries it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kefu.domain.ids import new_id
from kefu.domain.models import Attachment
from kefu.store.database import Database
from kefu.store.tables import attachments


def attachment_from_row(row: Any) -> Attachment:
    return Attachment(
        id=row.id,
        sha256=row.sha256,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        uploader=row.uploader,
        created_at=row.created_at,
        conversation_id=row.conversation_id,
        message_id=row.message_id,
    )


class AttachmentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        sha256: str,
        name: str,
        content_type: str,
        size: int,
        uploader: str,
        now: datetime,
    ) -> Attachment:
        attachment = Attachment(
            id=new_id("att"),
            sha256=sha256,
            name=name,
            content_type=content_type,
            size=size,
            uploader=uploader,
            created_at=now,
        )
        async with self._db.begin() as conn:
            await conn.execute(
                attachments.insert().values(
                    id=attachment.id,
                    sha256=sha256,
                    name=name,
                    content_type=content_type,
                    size=size,
                    uploader=uploader,
                    created_at=now,
                )
            )
        return attachment

    async def get(self, attachment_id: str) -> Attachment | None:
        query = attachments.select().where(attachments.c.id == attachment_id)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return attachment_from_row(row) if row else None

    async def many(self, ids: Sequence[str]) -> list[Attachment]:
        if not ids:
            return []
        query = attachments.select().where(attachments.c.id.in_(list(ids)))
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [attachment_from_row(row) for row in rows]

    async def link(
        self, ids: Sequence[str], uploader: str, conversation_id: str, message_id: int
    ) -> None:
        """Bind unsent attachments of ``uploader`` to the message that carries them."""
        query = (
            attachments.update()
            .where(attachments.c.id.in_(list(ids)))
            .where(attachments.c.uploader == uploader)
            .where(attachments.c.message_id.is_(None))
            .values(conversation_id=conversation_id, message_id=message_id)
        )
        async with self._db.begin() as conn:
            await conn.execute(query)
