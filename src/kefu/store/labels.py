"""Conversation labels in the store: a conversation's set, the labels of a page of
conversations in one query, and the labels in use (for the console's suggestions)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from kefu.store.conversation_search import among
from kefu.store.database import AsyncConnection, Database
from kefu.store.tables import conversation_labels

SUGGESTIONS = 200  # labels offered for completion: the most used


class LabelRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def replace(self, conversation_id: str, labels: Sequence[str]) -> list[str]:
        """The conversation's labels become exactly ``labels`` (already normalised)."""
        async with self._db.begin() as conn:
            await conn.execute(
                conversation_labels.delete().where(
                    conversation_labels.c.conversation_id == conversation_id
                )
            )
            if labels:
                await conn.execute(
                    conversation_labels.insert(),
                    [{"conversation_id": conversation_id, "label": label} for label in labels],
                )
        return sorted(labels)

    async def of(
        self, conversation_ids: Sequence[str], conn: AsyncConnection | None = None
    ) -> dict[str, tuple[str, ...]]:
        """Labels per conversation, sorted; conversations without any are left out. On
        ``conn`` if given (a list page reads everything on one connection)."""
        if not conversation_ids:
            return {}
        postgres = self._db.dialect == "postgresql"
        query = (
            sa.select(conversation_labels.c.conversation_id, conversation_labels.c.label)
            .where(among(conversation_labels.c.conversation_id, conversation_ids, postgres))
            .order_by(conversation_labels.c.conversation_id, conversation_labels.c.label)
        )
        found: dict[str, list[str]] = {}
        if conn is not None:
            rows = (await conn.execute(query)).all()
        else:
            async with self._db.connect() as own:
                rows = (await own.execute(query)).all()
        for row in rows:
            found.setdefault(row.conversation_id, []).append(row.label)
        return {key: tuple(value) for key, value in found.items()}

    async def in_use(self) -> list[tuple[str, int]]:
        """The most used labels with how many conversations carry each."""
        count = sa.func.count().label("conversations")
        query = (
            sa.select(conversation_labels.c.label, count)
            .group_by(conversation_labels.c.label)
            .order_by(count.desc(), conversation_labels.c.label)
            .limit(SUGGESTIONS)
        )
        async with self._db.connect() as conn:
            return [(row.label, int(row.conversations)) for row in await conn.execute(query)]
