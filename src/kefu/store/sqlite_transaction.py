"""One write transaction on SQLite's writer connection: its own module so that the parts
running on the writer thread (``kefu.store.database``'s thread, the message writer, the
search indexer) share it without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection

T = TypeVar("T")


def in_transaction(conn: Connection, work: Callable[[Connection], T]) -> T:
    """``work(conn)`` in one ``BEGIN IMMEDIATE`` … ``COMMIT`` on the writer's connection
    (rolled back if it raises)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RuntimeError("the SQLite writer lost its connection")
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        if conn.in_transaction():  # work used SQLAlchemy: its commit() is the driver's
            conn.commit()
        if raw.in_transaction:
            raw.execute("COMMIT")
    except BaseException:
        if conn.in_transaction():
            conn.rollback()
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    return result
