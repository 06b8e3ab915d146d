"""Bulk inserts for the hot paths (rule effects, the outbox): COPY on PostgreSQL, one
executemany of plain tuples on SQLite, on the caller's transaction.

Why not SQLAlchemy Core's executemany: per row it builds a parameter dict and runs every
value through its type's bind processor (JSON dumps, datetime formatting), ~20 us a row
here, more than the insert itself. Here each column's processor runs once per distinct
value in the call (a batch of rule tickets shares its ``now``, its SLA due dates and its
history detail), and the rows go to the driver as tuples: ~5 us a row on SQLite, and
COPY on PostgreSQL costs ~3 us of CPU and a third of executemany's time in the server
(measured in bench/README.md, "Events").

The values are the same Python values the tables take through Core (the column types'
bind processors are applied here), so rows written either way read back the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_Processor = Any  # a column type's bind processor for a dialect, or None


class _Plan:
    """One table + column list on one dialect: the SQL, and per column how its values
    become driver values (decided once here, not per value)."""

    def __init__(self, table: sa.Table, columns: Sequence[str], dialect: sa.Dialect) -> None:
        self.columns = list(columns)
        # (index, processor, memo key): "value" for types whose values repeat in a batch
        # and hash cheaply (timestamps), "id" for JSON (dicts a batch shares), None to
        # convert every value (payload bytes, strings: rarely repeated, hashing would
        # cost more than it saves).
        self.converters: list[tuple[int, _Processor, str | None]] = []
        for index, name in enumerate(self.columns):
            column_type = table.c[name].type
            processor = column_type._cached_bind_processor(dialect)
            if processor is None:
                continue
            if isinstance(column_type, sa.JSON):
                memo: str | None = "id"
            elif isinstance(column_type, sa.DateTime | sa.TypeDecorator):
                memo = "value"
            else:
                memo = None
            self.converters.append((index, processor, memo))
        compiled = table.insert().compile(dialect=dialect, column_keys=self.columns)
        if compiled.positiontup is not None and list(compiled.positiontup) != self.columns:
            raise ValueError(f"{table.name}: parameters out of column order")
        self.sql = str(compiled)


_SEQUENCE = sa.text("SELECT pg_get_serial_sequence(:table, 'id')")
# Per table: the SQL taking its sequence's next values (the sequences are the schema's,
# the same on every PostgreSQL store).
_next_ids: dict[str, str] = {}
_LAST_ROWID = sa.text("SELECT last_insert_rowid()")
_plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def _plan(table: sa.Table, columns: Sequence[str], dialect: sa.Dialect) -> _Plan:
    key = (dialect.name, table.name, tuple(columns))
    found = _plans.get(key)
    if found is None:
        found = _plans[key] = _Plan(table, columns, dialect)
    return found


def _driver_rows(plan: _Plan, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows with each column's bind processor applied (once per distinct value where
    values repeat: by value for timestamps, by identity for JSON dicts; the rows keep
    those objects alive for the whole call, so an identity is never reused)."""
    if not plan.converters:
        return [tuple(row) for row in rows]
    columns: list[tuple[int, _Processor, str | None, dict[Any, Any]]] = [
        (index, proc, memo, {}) for index, proc, memo in plan.converters
    ]
    out = []
    for row in rows:
        values = list(row)
        for index, proc, memo, seen in columns:
            value = values[index]
            if value is None:
                continue
            if memo is None:
                values[index] = proc(value)
                continue
            key = value if memo == "value" else id(value)
            try:
                values[index] = seen[key]
            except KeyError:
                values[index] = seen[key] = proc(value)
            except TypeError:  # unhashable: converted every time
                values[index] = proc(value)
        out.append(tuple(values))
    return out


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``, inside ``conn``'s transaction.

    SQLAlchemy's asyncpg adapter opens its transaction with the first statement; a COPY
    sent straight to the driver before that would commit on its own, so when none ran
    yet a no-op statement opens it first.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    if not driver.is_in_transaction():
        raise RuntimeError("bulk insert needs a transaction (Database.begin)")
    return driver


async def insert_rows(
    conn: AsyncConnection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, values as Core takes them)."""
    if not rows:
        return
    plan = _plan(table, columns, conn.dialect)
    values = _driver_rows(plan, rows)
    if conn.dialect.name == "postgresql":
        driver = await driver_connection(conn)
        await driver.copy_records_to_table(table.name, records=values, columns=plan.columns)
    else:
        await conn.exec_driver_sql(plan.sql, values)


async def insert_with_ids(
    conn: AsyncConnection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """``insert_rows`` for a table with an ``id`` sequence; the new ids in input order.

    SQLite: the transaction holds SQLite's single write lock from its first insert, so
    the rowids one executemany gives are consecutive and end at ``last_insert_rowid()``.
    PostgreSQL: COPY returns nothing, so the ids are taken from the sequence first.
    """
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        await insert_rows(conn, table, columns, rows)
        last = int((await conn.execute(_LAST_ROWID)).scalar_one())
        return list(range(last - len(rows) + 1, last + 1))
    ids = await next_ids(conn, table, len(rows))
    await insert_rows(
        conn, table, ("id", *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)]
    )
    return ids


async def next_ids(conn: AsyncConnection, table: sa.Table, count: int) -> list[int]:
    """``count`` ids from the PostgreSQL sequence behind ``table.id``, in order, so rows
    can be COPYed with their ids known (COPY returns nothing)."""
    query = _next_ids.get(table.name)
    if query is None:
        # The sequence named as a constant: nextval() looking it up by an expression
        # (pg_get_serial_sequence) per row costs ~7 us a row, by its name ~1 us.
        found = await conn.execute(_SEQUENCE, {"table": table.name})
        name = str(found.scalar_one()).split(".")[-1].strip('"').replace("'", "''")
        # (The name is the catalog's, never input: no injection through it.)
        query = f"SELECT nextval('\"{name}\"') FROM generate_series(1, $1::int)"  # noqa: S608
        _next_ids[table.name] = query
    # Straight to the driver, as the COPY that follows: SQLAlchemy's result rows cost
    # ~1 us an id more (thousands per batch).
    driver = await driver_connection(conn)
    return sorted([row[0] for row in await driver.fetch(query, count)])
