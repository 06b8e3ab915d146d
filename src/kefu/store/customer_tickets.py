"""A customer's tickets as the 360's ``kefu_tickets`` source reads them: kefu's own table,
so its SQL lives here with the rest of the store's (``kefu.unify.connectors.kefu_tickets``
only shapes the request and the rows)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kefu.store.database import Database
from kefu.store.tables import tickets

_COLUMNS = (
    tickets.c.id,
    tickets.c.subject,
    tickets.c.status,
    tickets.c.priority,
    tickets.c.created_at,
    tickets.c.updated_at,
)


async def tickets_of_customer(
    db: Database, customer_key: str, *, limit: int, include_closed: bool
) -> list[dict[str, Any]]:
    """Newest first, up to ``limit``; closed ones only with ``include_closed``."""
    query = (
        sa.select(*_COLUMNS)
        .where(tickets.c.customer_key == customer_key)
        .order_by(tickets.c.id.desc())
        .limit(limit)
    )
    if not include_closed:
        query = query.where(tickets.c.status != "closed")
    async with db.connect() as conn:
        rows = await conn.execute(query)
        return [dict(row._mapping) for row in rows]


class CustomerTickets:
    """``tickets_of_customer`` bound to one database: what the 360's source is given."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def of_customer(
        self, customer_key: str, *, limit: int, include_closed: bool
    ) -> list[dict[str, Any]]:
        return await tickets_of_customer(
            self._db, customer_key, limit=limit, include_closed=include_closed
        )
