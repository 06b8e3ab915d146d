"""The retention period, applied: a periodic run of :meth:`Eraser.erase_older_than`."""

from __future__ import annotations

import logging
from datetime import timedelta

from kefu.ports import Clock
from kefu.privacy.erasure import Erased, Eraser
from kefu.store.audit import AuditLog

log = logging.getLogger(__name__)


class Retention:
    def __init__(self, eraser: Eraser, clock: Clock, audit: AuditLog, days: int) -> None:
        self._eraser = eraser
        self._clock = clock
        self._audit = audit
        self._keep = timedelta(days=days)

    async def run_once(self) -> Erased:
        """Delete what ended before the retention period; audited when anything went."""
        now = self._clock.now()
        gone = await self._eraser.erase_older_than(now - self._keep)
        if any(gone.counts().values()):
            log.info("retention deleted %s", gone.counts())
            await self._audit.record(
                "privacy.retention",
                actor="kefu",
                target=None,
                now=now,
                detail={"before": (now - self._keep).isoformat(), **gone.counts()},
            )
        return gone
