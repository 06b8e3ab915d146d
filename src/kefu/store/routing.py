"""Customer routing decisions (``customer_routing``): which customers' chats go first."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.store.database import Database
from kefu.store.tables import customer_routing

VIP = "vip"


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

    async def vip_among(self, customer_keys: Iterable[str]) -> set[str]:
        keys = list(set(customer_keys))
        if not keys:
            return set()
        async with self._db.connect() as conn:
            rows = await conn.execute(
                sa.select(customer_routing.c.customer_key)
                .where(customer_routing.c.customer_key.in_(keys))
                .where(customer_routing.c.queue == VIP)
            )
            return {row.customer_key for row in rows}

    async def set_queue(
        self, conn: AsyncConnection, customer_key: str, queue: str, reason: str, now: datetime
    ) -> None:
        """Upsert on the caller's transaction (a rule's effect is atomic with its event)."""
        values = {"customer_key": customer_key, "queue": queue, "reason": reason, "updated_at": now}
        dialect = postgresql if self._db.dialect == "postgresql" else sqlite
        statement = dialect.insert(customer_routing).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[customer_routing.c.customer_key],
            set_={"queue": queue, "reason": reason, "updated_at": now},
        )
        await conn.execute(statement)
