"""The order system's tables, loaded from the demo dataset into any SQL database.

Production keeps orders in a MySQL table that kefu reads but does not own; the demo uses
SQLite and the tests use MariaDB and PostgreSQL. One SQLAlchemy Core definition serves
them all, so the orders connector is exercised against the same schema everywhere.

Tables
    ``demo_orders``: order_no (PK), customer_key (indexed), status, total NUMERIC(12,2),
    currency, created_at (UTC).
    ``demo_order_lines``: order_no, line_no (together the PK), sku, name, quantity,
    unit_price NUMERIC(12,2).
    ``demo_order_refunds``: refund_key (PK: the refund's idempotency key), order_no,
    amount, previous_status, reason, created_at, cancelled_at (the write side:
    :mod:`kefu.demo_systems.orders_api`).
    ``demo_order_idempotency``: idempotency_key (PK), status, body: each write's answer,
    recorded in the write's own transaction, so a key is applied once even across
    processes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from kefu.demo_systems.dataset import Dataset

#: Rows per INSERT batch: keeps one statement well under MySQL's max_allowed_packet.
BATCH_ROWS: Final = 1000

# Its own MetaData: these tables belong to the simulated order system, never to kefu's
# store or its migrations.
metadata = MetaData()

demo_orders = Table(
    "demo_orders",
    metadata,
    Column("order_no", String(32), primary_key=True),
    Column("customer_key", String(32), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("total", Numeric(12, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

demo_order_lines = Table(
    "demo_order_lines",
    metadata,
    Column(
        "order_no",
        String(32),
        ForeignKey("demo_orders.order_no", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("sku", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(12, 2), nullable=False),
)

demo_order_refunds = Table(
    "demo_order_refunds",
    metadata,
    Column("refund_key", String(200), primary_key=True),
    Column("order_no", String(32), nullable=False, index=True),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("previous_status", String(16), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
)

demo_order_idempotency = Table(
    "demo_order_idempotency",
    metadata,
    Column("idempotency_key", String(200), primary_key=True),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
)


async def seed_orders(url: str, dataset: Dataset) -> int:
    """(Re)create ``demo_orders`` and ``demo_order_lines`` at ``url`` and load the dataset.

    ``url`` is any SQLAlchemy async URL (``sqlite+aiosqlite:///path``,
    ``mysql+asyncmy://root@127.0.0.1:3306/test``, ``postgresql+asyncpg://...``). The
    tables are dropped first, so a re-run leaves exactly the dataset. Returns the number
    of orders loaded. Everything happens in one transaction: a reader never sees half.
    """
    engine = create_async_engine(url)
    try:
        naive = engine.dialect.name not in {"postgresql"}
        orders = [
            {
                "order_no": o.order_no,
                "customer_key": o.customer_key,
                "status": o.status,
                "total": o.total,
                "currency": o.currency,
                "created_at": _utc(o.created_at, naive=naive),
            }
            for o in dataset.orders
        ]
        lines = [
            {
                "order_no": o.order_no,
                "line_no": number,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
            }
            for o in dataset.orders
            for number, line in enumerate(o.lines, start=1)
        ]
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
            await _insert(conn, demo_orders, orders)
            await _insert(conn, demo_order_lines, lines)
        return len(orders)
    finally:
        await engine.dispose()


def _utc(moment: datetime, *, naive: bool) -> datetime:
    """UTC, without tzinfo where the column type has none (MySQL DATETIME, SQLite).

    Drivers for those either drop the offset silently or reject it; handing them naive
    UTC makes what is stored explicit and the same on every driver.
    """
    moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None) if naive else moment


async def _insert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    for batch in _batches(rows):
        await conn.execute(table.insert(), batch)  # a list of rows: executemany


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start : start + BATCH_ROWS]
