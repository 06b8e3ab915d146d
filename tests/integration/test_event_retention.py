"""Processed event ids are forgotten after the retention window, and only then.

On a bare store, not a running node: a node's own pruner would race the test's."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from kefu.clock import SystemClock
from kefu.events.retention import prune_processed
from kefu.store.database import Database
from kefu.store.processed_events import ProcessedEvents
from kefu.store.tables import processed_events


async def test_ids_older_than_the_window_are_forgotten_the_rest_kept(store_url: str) -> None:
    clock = SystemClock()
    now = clock.now()
    ages = {"evt_old_1": 200, "evt_old_2": 169, "evt_recent": 167, "evt_new": 0}
    async with Database(store_url) as db:
        await db.migrate()
        async with db.begin() as conn:
            await conn.execute(
                processed_events.insert(),
                [
                    {
                        "consumer": "prune-test",
                        "event_id": event_id,
                        "processed_at": now - timedelta(hours=hours),
                    }
                    for event_id, hours in ages.items()
                ],
            )
        assert await prune_processed(ProcessedEvents(db), clock, timedelta(hours=168)) == 2
        async with db.connect() as conn:
            query = sa.select(processed_events.c.event_id).where(
                processed_events.c.consumer == "prune-test"
            )
            left = (await conn.execute(query)).scalars().all()
        assert sorted(left) == ["evt_new", "evt_recent"]
        assert await prune_processed(ProcessedEvents(db), clock, timedelta(hours=168)) == 0
