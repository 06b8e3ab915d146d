"""Customer routing decisions (``customer_routing``): which customers' chats go first.

``VIP_LANE`` and ``IN_VIP_LANE`` say, in SQL, whether a conversation's customer
(``customer_of``) is routed to the VIP queue. One node's board asks it of one conversation
(``in_vip_lane``) and the store-decided assignment of several nodes orders the whole
waiting queue by it (``shared_assignment``): the same join, so the two paths cannot drift.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.customer_of import CONVERSATION_CUSTOMER, WITH_VISITOR
from kefu.store.database import Database
from kefu.store.tables import conversations, customer_routing

VIP = "vip"

# Conversations with their visitor and, when their customer is routed to VIP, that route
# (the routing table's key is the customer, so the join adds at most one row).
VIP_LANE = WITH_VISITOR.outerjoin(
    customer_routing,
    sa.and_(
        customer_routing.c.customer_key == CONVERSATION_CUSTOMER,
        customer_routing.c.queue == VIP,
    ),
)
IN_VIP_LANE = customer_routing.c.customer_key.is_not(None)


class CustomerRoutingRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def queue_of(self, customer_key: str) -> str | None:
        async with self._db.connect() as conn:
            return (
                await conn.execute(
                    sa.select(customer_routing.c.queue).where(
                        customer_routing.c.customer_key == customer_key
                    )
                )
            ).scalar_one_or_none()

    async def in_vip_lane(self, conversation_id: str) -> bool:
        """Whether the conversation's customer is routed to the VIP queue."""
        async with self._db.connect() as conn:
            found = await conn.execute(
                sa.select(IN_VIP_LANE)
                .select_from(VIP_LANE)
                .where(conversations.c.id == conversation_id)
            )
            return bool(found.scalar_one_or_none())

    async def set_queue(
        self, conn: AsyncConnection, customer_key: str, queue: str, reason: str, now: datetime
    ) -> None:
        """``RoutingInUnit.set_queue`` on a transaction the caller holds."""
        await RoutingInUnit(conn).set_queue(customer_key, queue, reason, now)


class RoutingInUnit:
    """A rule's routing decision in its unit of work (``StoreUnitOfWork.routing``): atomic
    with the event that made it."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def set_queue(self, customer_key: str, queue: str, reason: str, now: datetime) -> None:
        """Upsert the customer's queue."""
        values = {"customer_key": customer_key, "queue": queue, "reason": reason, "updated_at": now}
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(customer_routing).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[customer_routing.c.customer_key],
            set_={"queue": queue, "reason": reason, "updated_at": now},
        )
        await self._conn.execute(statement)
