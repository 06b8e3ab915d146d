"""Keyword auto-replies, editable by admins; read into the chat service's memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from kefu.domain.autoreply import AutoReplyRule
from kefu.domain.ids import new_id
from kefu.errors import NotFound
from kefu.store.database import Database
from kefu.store.tables import auto_replies


class AutoReplyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, keywords: list[str], reply: str, now: datetime) -> str:
        async with self._db.begin() as conn:
            position = (
                await conn.execute(sa.select(sa.func.count()).select_from(auto_replies))
            ).scalar_one()
            rule_id = new_id("ar")
            await conn.execute(
                auto_replies.insert().values(
                    id=rule_id, keywords=keywords, reply=reply, position=position, created_at=now
                )
            )
        return rule_id

    async def list(self) -> list[tuple[str, AutoReplyRule]]:
        query = auto_replies.select().order_by(auto_replies.c.position, auto_replies.c.created_at)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(row.id, AutoReplyRule(tuple(row.keywords), row.reply)) for row in rows]

    async def update(
        self, rule_id: str, *, keywords: Sequence[str] | None = None, reply: str | None = None
    ) -> AutoReplyRule:
        """Change a rule in place (it keeps its position among the others)."""
        changes: dict[str, object] = {}
        if keywords is not None:
            changes["keywords"] = [*keywords]
        if reply is not None:
            changes["reply"] = reply
        async with self._db.begin() as conn:
            if changes:
                await conn.execute(
                    auto_replies.update().where(auto_replies.c.id == rule_id).values(**changes)
                )
            row = (
                await conn.execute(auto_replies.select().where(auto_replies.c.id == rule_id))
            ).first()
        if row is None:
            raise NotFound(f"no auto-reply {rule_id!r}", code="auto_reply_not_found")
        return AutoReplyRule(tuple(row.keywords), row.reply)

    async def delete(self, rule_id: str) -> None:
        async with self._db.begin() as conn:
            result = await conn.execute(auto_replies.delete().where(auto_replies.c.id == rule_id))
        if result.rowcount == 0:
            raise NotFound(f"no auto-reply {rule_id!r}", code="auto_reply_not_found")
