"""Conversations: lifecycle rows, assignment, read markers, listing with keyset paging."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kefu.domain.conversation import ConversationStatus
from kefu.domain.ids import new_id
from kefu.domain.models import ConversationRecord, Rating
from kefu.store.database import Database
from kefu.store.rows import ValuesRow
from kefu.store.tables import conversations, visitors

OPEN_STATUSES = (ConversationStatus.WAITING.value, ConversationStatus.ASSIGNED.value)
# pg_advisory_xact_lock(class, key) class for "one visitor opens one conversation":
# "kefu" in ASCII (the key is hashtext(visitor id)).
VISITOR_OPEN_LOCK = 0x6B656675


def conversation_record(row: Any) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        visitor_id=row.visitor_id,
        status=ConversationStatus(row.status),
        assignee_id=row.assignee_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        last_message_id=row.last_message_id,
        visitor_read_id=row.visitor_read_id,
        agent_read_id=row.agent_read_id,
        rating=(
            Rating(row.rating_score, row.rating_comment, row.rated_at)
            if getattr(row, "rating_score", None) is not None
            else None
        ),
    )


def filtered(
    query: sa.Select[Any],
    status: str | None,
    assignee_id: str | None,
    before: tuple[datetime, str] | None,
    *,
    visitor_id: str | None = None,
) -> sa.Select[Any]:
    """The list filters and keyset order shared by every conversation listing, newest
    activity first; ``before`` is the (updated_at, id) of the last item already seen."""
    if status == "open":
        query = query.where(conversations.c.status.in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(conversations.c.status == status)
    if assignee_id is not None:
        query = query.where(conversations.c.assignee_id == assignee_id)
    if visitor_id is not None:
        query = query.where(conversations.c.visitor_id == visitor_id)
    if before is not None:
        query = query.where(
            sa.tuple_(conversations.c.updated_at, conversations.c.id) < sa.tuple_(*before)
        )
    return query.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())


def _customer(conversation: Any, visitor: Any) -> sa.ColumnElement[Any]:
    """kefu.store.customer_of's definition, over aliases of the two tables."""
    return sa.func.coalesce(
        conversation.c.customer_key,
        sa.case((visitor.c.identity_verified.is_(True), visitor.c.external_id), else_=None),
    )


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, visitor_id: str, now: datetime) -> ConversationRecord:
        values = self._new_values(visitor_id, now)
        async with self._db.begin() as conn:
            await conn.execute(conversations.insert().values(**values))
        return conversation_record(ValuesRow(values))

    @staticmethod
    def _new_values(visitor_id: str, now: datetime) -> dict[str, Any]:
        return {
            "id": new_id("conv"),
            "visitor_id": visitor_id,
            "status": ConversationStatus.WAITING.value,
            "assignee_id": None,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "last_message_id": None,
            "visitor_read_id": None,
            "agent_read_id": None,
        }

    async def open_or_create(
        self, visitor_id: str, now: datetime
    ) -> tuple[ConversationRecord, bool]:
        """The visitor's open conversation, or a new one (True): one transaction, and on
        PostgreSQL under a per-visitor lock, so two tabs on two nodes sending their first
        message at once open one conversation, not two."""
        async with self._db.begin() as conn:
            if self._db.dialect == "postgresql":
                await conn.execute(
                    sa.select(
                        sa.func.pg_advisory_xact_lock(
                            VISITOR_OPEN_LOCK, sa.func.hashtext(visitor_id)
                        )
                    )
                )
            row = (
                await conn.execute(
                    conversations.select()
                    .where(conversations.c.visitor_id == visitor_id)
                    .where(conversations.c.status.in_(OPEN_STATUSES))
                    .order_by(conversations.c.created_at.desc())
                    .limit(1)
                )
            ).first()
            if row is not None:
                return conversation_record(row), False
            values = self._new_values(visitor_id, now)
            # A returning visitor's new conversation keeps the customer an agent linked
            # the last one to: the 360 and the VIP lane know them at once.
            values["customer_key"] = (
                await conn.execute(
                    sa.select(conversations.c.customer_key)
                    .where(conversations.c.visitor_id == visitor_id)
                    .order_by(conversations.c.created_at.desc())
                    .limit(1)
                )
            ).scalar()
            await conn.execute(conversations.insert().values(**values))
        return conversation_record(ValuesRow(values)), True

    async def reopen(self, conversation_id: str, visitor_id: str, now: datetime) -> str | None:
        """Closed -> waiting, unassigned, with its history; None when done, else why not:
        ``not_closed``, or ``visitor_has_open_conversation`` (a visitor has one open
        conversation at a time; checked under the same per-visitor lock as opening)."""
        async with self._db.begin() as conn:
            if self._db.dialect == "postgresql":
                await conn.execute(
                    sa.select(
                        sa.func.pg_advisory_xact_lock(
                            VISITOR_OPEN_LOCK, sa.func.hashtext(visitor_id)
                        )
                    )
                )
            other = (
                await conn.execute(
                    sa.select(conversations.c.id)
                    .where(conversations.c.visitor_id == visitor_id)
                    .where(conversations.c.status.in_(OPEN_STATUSES))
                    .limit(1)
                )
            ).first()
            if other is not None:
                return (
                    "not_closed" if other[0] == conversation_id else "visitor_has_open_conversation"
                )
            result = await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .where(conversations.c.status == ConversationStatus.CLOSED.value)
                .values(
                    status=ConversationStatus.WAITING.value,
                    assignee_id=None,
                    closed_at=None,
                    updated_at=now,
                )
            )
            return None if result.rowcount else "not_closed"

    async def shares_party(self, agent_id: str, conversation_id: str) -> bool:
        """Does ``agent_id`` hold an open conversation of the same visitor or customer as
        this one? Then it may read this one (a "previous conversation"), not change it."""
        target = conversations.alias("target")
        held = conversations.alias("held")
        target_visitor = visitors.alias("target_visitor")
        held_visitor = visitors.alias("held_visitor")
        same_customer = _customer(target, target_visitor) == _customer(held, held_visitor)
        query = (
            sa.select(sa.literal(1))
            .select_from(
                target.join(target_visitor, target_visitor.c.id == target.c.visitor_id),
                held.join(held_visitor, held_visitor.c.id == held.c.visitor_id),
            )
            .where(target.c.id == conversation_id)
            .where(held.c.assignee_id == agent_id)
            .where(held.c.status.in_(OPEN_STATUSES))
            .where(sa.or_(held.c.visitor_id == target.c.visitor_id, same_customer))
            .limit(1)
        )
        async with self._db.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        query = conversations.select().where(conversations.c.id == conversation_id)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return conversation_record(row) if row else None

    async def save_state(
        self,
        conversation_id: str,
        status: ConversationStatus,
        assignee_id: str | None,
        now: datetime,
    ) -> None:
        values: dict[str, Any] = {
            "status": status.value,
            "assignee_id": assignee_id,
            "updated_at": now,
        }
        if status is ConversationStatus.CLOSED:
            values["closed_at"] = now
        async with self._db.begin() as conn:
            await conn.execute(
                conversations.update().where(conversations.c.id == conversation_id).values(**values)
            )

    async def link_customer(self, conversation_id: str, key: str | None, now: datetime) -> None:
        async with self._db.begin() as conn:
            await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .values(customer_key=key, updated_at=now)
            )

    async def mark_read(self, conversation_id: str, *, by_visitor: bool, message_id: int) -> None:
        """Move the read marker forward only: an old ``read`` frame never un-reads."""
        column = conversations.c.visitor_read_id if by_visitor else conversations.c.agent_read_id
        async with self._db.begin() as conn:
            await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .where(sa.or_(column.is_(None), column < message_id))
                .values({column.key: message_id})
            )

    async def search(
        self,
        *,
        status: str | None,
        assignee_id: str | None,
        visitor_id: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[ConversationRecord]:
        """Newest first; ``before`` is the (updated_at, id) of the last item already seen."""
        query = filtered(conversations.select(), status, assignee_id, before, visitor_id=visitor_id)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [conversation_record(row) for row in rows]

    async def rate(
        self, conversation_id: str, score: int, comment: str | None, now: datetime
    ) -> bool:
        """Store the rating once; False when the conversation was already rated."""
        async with self._db.begin() as conn:
            result = await conn.execute(
                conversations.update()
                .where(conversations.c.id == conversation_id)
                .where(conversations.c.rating_score.is_(None))
                .values(rating_score=score, rating_comment=comment, rated_at=now)
            )
        return bool(result.rowcount)

    async def open_loads(self) -> dict[str, int]:
        """Open conversations per agent, to rebuild the assignment board after a restart."""
        query = (
            sa.select(conversations.c.assignee_id, sa.func.count())
            .where(conversations.c.status == ConversationStatus.ASSIGNED.value)
            .group_by(conversations.c.assignee_id)
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: int(row[1]) for row in rows if row[0] is not None}

    async def waiting_ids(self) -> list[str]:
        query = (
            sa.select(conversations.c.id)
            .where(conversations.c.status == ConversationStatus.WAITING.value)
            .order_by(conversations.c.created_at)
        )
        async with self._db.connect() as conn:
            return list((await conn.execute(query)).scalars())
