"""Emit events in the transaction of the change that caused them (the outbox pattern).

``emit(conn, events)`` inserts into ``outbox`` on the caller's connection, so the event
exists exactly when the change committed. The event log then delivers it: the store log
reads the outbox directly; with JetStream a relay publishes and deletes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from kefu.events.envelope import Event, encode
from kefu.store.bulk import insert_rows
from kefu.store.tables import outbox

COLUMNS = ("subject", "event_id", "payload", "created_at")


async def emit(conn: AsyncConnection, events: Sequence[Event], now: datetime) -> None:
    if not events:
        return
    await insert_rows(
        conn,
        outbox,
        COLUMNS,
        [(event.subject, event.id, encode(event), now) for event in events],
    )
