"""The ticket service over a real store without a node: a fake clock, the service, the
SLA watcher and one agent, plus drafts, patches and moments of a known week."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from kefu.domain.envelope import Event, decode_trusted
from kefu.domain.roles import Role
from kefu.domain.tickets import Channel, TicketDraft, TicketPatch
from kefu.store.database import Database
from kefu.store.repositories import Repositories
from kefu.store.tables import outbox
from kefu.store.unit_of_work import unit_of_work_factory
from kefu.tickets import events
from kefu.tickets.service import Actor, TicketService
from kefu.tickets.settings import TicketSettings
from kefu.tickets.sla_watch import SlaWatcher
from tests.support.kefu import PASSWORD_HASH

MONDAY = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)  # 09:00, the business opens
SETTINGS = TicketSettings.model_validate(
    {
        "business_hours": {"timezone": "UTC", "start": "09:00", "end": "18:00"},
        "sla_policies": {
            "default": {"warn_before_minutes": 30},  # normal: 240 / 1440 business minutes
            "24x7": {
                "business_hours": False,
                "first_response_minutes": {"normal": 60},
                "resolution_minutes": {"normal": 120},
            },
        },
    }
)


class FakeClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


@dataclass
class Env:
    db: Database
    repos: Repositories
    clock: FakeClock
    service: TicketService
    watcher: SlaWatcher
    agent: Actor
    seen: int = 0

    async def events(self) -> list[Event]:
        """Events written to the outbox since the last call, each checked against its schema."""
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.subject, outbox.c.payload).order_by(outbox.c.id)
                )
            ).all()
        found = []
        for row in rows[self.seen :]:
            event = decode_trusted(bytes(row.payload))
            if not event.type.startswith("ticket."):
                continue  # e.g. offline_message.created, emitted by the chat side
            assert row.subject == event.subject == f"kefu.events.{event.type}"
            assert event.source == events.SOURCE
            events.check(event)
            found.append(event)
        self.seen = len(rows)
        return found

    async def history(self, ticket_id: int) -> list[tuple[str, str | None, Any]]:
        rows = await self.repos.tickets.history(ticket_id)
        return [(row.action, row.actor, row.detail) for row in rows]


@contextlib.asynccontextmanager
async def ticket_env(store_url: str) -> AsyncIterator[Env]:
    """A migrated store with a ticket service, an SLA watcher and one agent, on a fake
    clock at ``MONDAY``."""
    async with Database(store_url) as db:
        await db.migrate()
        repos = Repositories.over(db)
        clock = FakeClock(MONDAY)
        service = TicketService(repos, unit_of_work_factory(db), clock, SETTINGS)
        watcher = SlaWatcher(unit_of_work_factory(db), repos.tickets, service.rules, clock, 3600)
        agent = await repos.agents.create(
            email="ann@example.test",
            name="Ann",
            role=Role.AGENT,
            password_hash=PASSWORD_HASH,
            now=MONDAY,
        )
        yield Env(db, repos, clock, service, watcher, Actor(f"agent:{agent.id}", "Ann", True))


def draft(**fields: Any) -> TicketDraft:
    values: dict[str, Any] = {
        "subject": "Parcel never arrived",
        "body": "Order 1234 was due last week.",
        "customer_key": "C-1",
        "channel": Channel.API,
    }
    return TicketDraft(**(values | fields))


def patch(**fields: Any) -> TicketPatch:
    return TicketPatch(frozenset(fields), **fields)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 3, day, hour, minute, tzinfo=UTC)
