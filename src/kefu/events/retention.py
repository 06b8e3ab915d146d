"""Forgetting processed event ids once no redelivery can bring them back.

``processed_events`` makes a redelivered event change nothing; a row is only needed
while the event can still arrive again: JetStream's duplicate window, the consumer's
retries, a republish by a department system. Kept forever it grows by one row per event
(at thousands of events a second, billions of rows). Rows older than
``events.dedupe_retention_hours`` (a week by default, far beyond any redelivery) are
deleted every ``PRUNE_EVERY_SECONDS``; several nodes doing it at once is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from kefu.ports import Clock
from kefu.store.processed_events import ProcessedEvents

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0


async def prune_processed(processed: ProcessedEvents, clock: Clock, keep: timedelta) -> int:
    """Delete dedupe rows older than ``keep``; returns how many."""
    return await processed.forget_before(clock.now() - keep)


async def run_pruner(
    processed: ProcessedEvents, clock: Clock, keep: timedelta, every: float = PRUNE_EVERY_SECONDS
) -> None:
    """Prune now and then every ``every`` seconds until cancelled; a failure waits a round."""
    while True:
        try:
            pruned = await prune_processed(processed, clock, keep)
            if pruned:
                log.info("forgot %d processed event ids older than %s", pruned, keep)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("pruning processed event ids failed; next round", exc_info=True)
        await asyncio.sleep(every)
