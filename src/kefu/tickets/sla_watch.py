"""The SLA watcher: announces each ticket's warnings and breaches once, on any node.

Every ``tickets.sla_check_seconds`` it asks the store for tickets that may owe an
announcement, lets ``SlaRules.alarms`` decide exactly (business time), and for each owed
one stamps the ticket and writes its history row and its ``ticket.sla.warning`` /
``ticket.sla.breached`` event in one transaction. The stamp's UPDATE … WHERE re-checks
under the row lock, so when several nodes check at once exactly one of them emits.

It checks once at start, so targets that passed while no node ran are announced at once.
Given the ticket service's live feed, each announcement also updates the consoles showing
the ticket (its SLA badge), after the commit. A pending ticket's resolution clock is
paused: nothing about it is owed then (``kefu.domain.sla``).
A failed check is logged and retried at the next tick: announcements are late, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from types import TracebackType

from msgspec.structs import replace

from kefu.domain.envelope import Event
from kefu.domain.sla import Alarm, SlaRules
from kefu.domain.tickets import SlaAlarm, Ticket
from kefu.ports import Clock
from kefu.store.tickets import HistoryRow, TicketRepository
from kefu.store.unit_of_work import StoreUnitOfWork, Units
from kefu.tickets import events
from kefu.tickets.live import TicketFeed
from kefu.timefmt import iso

log = logging.getLogger(__name__)

# Tickets per transaction: bounds one transaction's size and row locks, while a backlog
# after downtime still clears in a few round trips.
PAGE = 200
_ACTION = {SlaAlarm.WARNING: "sla.warning", SlaAlarm.BREACH: "sla.breach"}
_STAMP_FIELD = {SlaAlarm.WARNING: "warned_at", SlaAlarm.BREACH: "breached_at"}


class SlaWatcher:
    """Async context manager owning the checking task; ``check()`` is callable directly."""

    def __init__(
        self,
        units: Units,
        tickets: TicketRepository,
        rules: SlaRules,
        clock: Clock,
        interval_seconds: float,
        *,
        feed: TicketFeed | None = None,
    ) -> None:
        self._units = units
        self._tickets = tickets
        self._rules = rules
        self._clock = clock
        self._interval = interval_seconds
        self._feed = feed
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SlaWatcher:
        self._task = asyncio.create_task(self._run(), name="kefu-sla-watch")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("SLA check failed; trying again in %.0f s", self._interval)
            await asyncio.sleep(self._interval)

    async def check(self) -> int:
        """Announce everything owed now; returns the number of events emitted."""
        now = self._clock.now()
        horizon = self._rules.warn_horizon(now)
        emitted = 0
        after = 0
        while True:
            page = await self._tickets.due_for_sla(
                now, warn_until=horizon, after_id=after, limit=PAGE
            )
            owed = [
                (ticket, alarms)
                for ticket in page
                if (alarms := self._rules.alarms(ticket.status, ticket.sla, now))
            ]
            if owed:
                emitted += await self._announce(owed, now)
            if len(page) < PAGE:
                return emitted
            after = page[-1].id

    async def _announce(self, owed: list[tuple[Ticket, list[Alarm]]], now: datetime) -> int:
        history: list[HistoryRow] = []
        out: list[Event] = []
        async with self._units() as uow:
            await self._stamp(uow, owed, now, history, out)
        return len(out)

    async def _stamp(
        self,
        uow: StoreUnitOfWork,
        owed: list[tuple[Ticket, list[Alarm]]],
        now: datetime,
        history: list[HistoryRow],
        out: list[Event],
    ) -> None:
        for ticket, alarms in owed:
            won: set[SlaAlarm] = set()
            for kind in (SlaAlarm.WARNING, SlaAlarm.BREACH):
                mine = [(a.target, a.due_at, a.at) for a in alarms if a.kind is kind]
                if mine and await uow.tickets.stamp_sla(ticket.id, kind, mine, now):
                    won.add(kind)
            for alarm in alarms:
                if alarm.kind in won:
                    history.append(
                        HistoryRow(
                            ticket.id,
                            _ACTION[alarm.kind],
                            None,
                            now,
                            {"target": alarm.target.value, "due_at": iso(alarm.due_at)},
                        )
                    )
                    out.append(events.sla_alarm(ticket, alarm, now))
            if won and self._feed is not None:
                self._push(uow, self._feed, ticket, won, now)
        await uow.tickets.add_history(history)
        await uow.emit(out, now)

    @staticmethod
    def _push(
        uow: StoreUnitOfWork, feed: TicketFeed, ticket: Ticket, won: set[SlaAlarm], now: datetime
    ) -> None:
        """The ticket's SLA badge, warned or breached now, to the consoles showing it."""
        sla = ticket.sla
        changes = {_STAMP_FIELD[kind]: (getattr(sla, _STAMP_FIELD[kind]), now) for kind in won}
        if SlaAlarm.WARNING in won:
            sla = replace(sla, warned_at=now)
        if SlaAlarm.BREACH in won:
            sla = replace(sla, breached_at=now)
        stamped = replace(ticket, sla=sla)
        uow.after_commit(lambda: feed.updated(stamped, changes, None))
