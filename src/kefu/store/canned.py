"""Canned replies: shared answers agents insert with ``/shortcut``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from kefu.domain.ids import new_id
from kefu.errors import Conflict, NotFound
from kefu.store.database import Database
from kefu.store.tables import canned_replies


@dataclass(frozen=True, slots=True)
class CannedReply:
    id: str
    shortcut: str
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


def _canned(row: Any) -> CannedReply:
    return CannedReply(row.id, row.shortcut, row.title, row.body, row.created_at, row.updated_at)


class CannedReplyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, *, shortcut: str, title: str, body: str, now: datetime) -> CannedReply:
        reply = CannedReply(new_id("cr"), shortcut, title, body, now, now)
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    canned_replies.insert().values(
                        id=reply.id,
                        shortcut=shortcut,
                        title=title,
                        body=body,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict(f"shortcut {shortcut!r} is taken", code="shortcut_taken") from None
        return reply

    async def list(self) -> list[CannedReply]:
        async with self._db.connect() as conn:
            rows = (await conn.execute(canned_replies.select().order_by("shortcut"))).all()
        return [_canned(row) for row in rows]

    async def update(self, reply_id: str, now: datetime, **changes: str) -> CannedReply:
        try:
            async with self._db.begin() as conn:
                result = await conn.execute(
                    canned_replies.update()
                    .where(canned_replies.c.id == reply_id)
                    .values(updated_at=now, **changes)
                )
                if result.rowcount == 0:
                    raise NotFound(f"no canned reply {reply_id!r}", code="canned_reply_not_found")
                row = (
                    await conn.execute(
                        canned_replies.select().where(canned_replies.c.id == reply_id)
                    )
                ).one()
        except IntegrityError:
            raise Conflict("that shortcut is taken", code="shortcut_taken") from None
        return _canned(row)

    async def delete(self, reply_id: str) -> None:
        async with self._db.begin() as conn:
            result = await conn.execute(
                canned_replies.delete().where(canned_replies.c.id == reply_id)
            )
        if result.rowcount == 0:
            raise NotFound(f"no canned reply {reply_id!r}", code="canned_reply_not_found")
