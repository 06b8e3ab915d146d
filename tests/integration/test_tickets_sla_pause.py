"""The resolution clock pauses while a ticket is pending, over a real store (SQLite and
PostgreSQL) with a fake clock: the pause is stored, the due date moves out by the
business time paused when the ticket is reopened, the watcher announces nothing about a
paused target (nor stamps one that went pending under it), and a breach before the pause
stands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from alembic import command

from kefu.domain.tickets import SlaAlarm, SlaTarget, TicketStatus
from kefu.store.database import Database
from kefu.store.migrate import alembic_config
from kefu.store.tables import Timestamp
from kefu.store.tickets import TicketFilter, TicketRepository
from kefu.tickets import events
from tests.support.tickets import Env, at, draft, patch, ticket_env


@pytest.fixture
async def env(store_url: str) -> AsyncIterator[Env]:
    async with ticket_env(store_url) as made:
        yield made


async def announced(env: Env) -> list[tuple[str, str, str]]:
    await env.watcher.check()
    return [(e.type, e.data["target"], e.data["due_at"]) for e in await env.events()]


async def test_pending_pauses_the_resolution_and_reopening_moves_it_out(env: Env) -> None:
    ticket = await env.service.create(draft(), env.agent)  # Monday 09:00; due Wed 15:00
    assert ticket.sla.resolution_due_at == at(5, 15)
    env.clock.set(at(3, 10))
    await env.service.comment(ticket.id, "Looking into it", env.agent)  # first response
    await env.service.update(ticket.id, patch(status=TicketStatus.OPEN), env.agent)
    env.clock.set(at(3, 11))
    pending = await env.service.update(ticket.id, patch(status=TicketStatus.PENDING), env.agent)
    assert pending.sla.paused_at == at(3, 11)
    assert pending.sla.resolution_due_at == at(5, 15)  # moves when the clock runs again
    assert (await env.repos.tickets.get(ticket.id)) == pending
    await env.events()

    # Wednesday, past the original due time: nothing is owed while paused.
    env.clock.set(at(5, 15, 30))
    assert await announced(env) == []
    assert (await env.repos.tickets.get(ticket.id)).sla.breached_at is None  # type: ignore[union-attr]

    # Reopened Thursday 10:00: Mon 11-18, Tue, Wed and Thu 9-10 = 26 business hours.
    env.clock.set(at(6, 10))
    reopened = await env.service.update(ticket.id, patch(status=TicketStatus.OPEN), env.agent)
    assert reopened.sla.paused_at is None
    assert reopened.sla.paused_minutes == 26 * 60
    assert reopened.sla.resolution_due_at == at(10, 14)  # Wed 15:00 + 26 h: next Monday 14:00
    assert (await env.repos.tickets.get(ticket.id)) == reopened
    [updated] = await env.events()
    assert updated.data["changes"] == {
        "status": {"before": "pending", "after": "open"},
        "resolution_due_at": {"before": "2031-03-05T15:00:00Z", "after": "2031-03-10T14:00:00Z"},
        "paused_at": {"before": "2031-03-03T11:00:00Z", "after": None},
    }
    *_, status_row = await env.history(ticket.id)
    assert status_row[0] == "status" and status_row[2] == {
        "before": "pending",
        "after": "open",
        "resolution_due_at": {"before": "2031-03-05T15:00:00Z", "after": "2031-03-10T14:00:00Z"},
        "paused_at": {"before": "2031-03-03T11:00:00Z", "after": None},
    }
    assert events.ticket_payload(reopened)["sla"]["paused_at"] is None

    # The moved target is warned and breached at its new time, once each.
    env.clock.set(at(10, 13, 29))
    assert await announced(env) == []
    env.clock.set(at(10, 13, 30))
    assert await announced(env) == [("ticket.sla.warning", "resolution", "2031-03-10T14:00:00Z")]
    env.clock.set(at(10, 14))
    assert await announced(env) == [("ticket.sla.breached", "resolution", "2031-03-10T14:00:00Z")]


async def test_a_breach_before_pending_stands(env: Env) -> None:
    ticket = await env.service.create(draft(sla_policy="24x7"), env.agent)  # due 10:00, 11:00
    env.clock.set(at(3, 9, 30))
    await env.service.comment(ticket.id, "On it", env.agent)
    env.clock.set(at(3, 11))
    await env.events()
    assert await announced(env) == [
        ("ticket.sla.warning", "resolution", "2031-03-03T11:00:00Z"),
        ("ticket.sla.breached", "resolution", "2031-03-03T11:00:00Z"),
    ]
    env.clock.set(at(3, 12))
    await env.service.update(ticket.id, patch(status=TicketStatus.PENDING), env.agent)
    env.clock.set(at(3, 15))
    reopened = await env.service.update(ticket.id, patch(status=TicketStatus.OPEN), env.agent)
    assert reopened.sla.resolution_due_at == at(3, 11)
    assert reopened.sla.breached_at == at(3, 11) and reopened.sla.paused_minutes == 0
    await env.events()
    assert await announced(env) == []


async def test_a_ticket_that_went_pending_under_the_watcher_is_not_stamped(env: Env) -> None:
    ticket = await env.service.create(draft(sla_policy="24x7"), env.agent)
    env.clock.set(at(3, 9, 30))
    await env.service.comment(ticket.id, "On it", env.agent)
    env.clock.set(at(3, 11, 30))
    [seen] = await env.repos.tickets.due_for_sla(at(3, 11, 30))  # a watcher read it...
    await env.service.update(ticket.id, patch(status=TicketStatus.PENDING), env.agent)
    due = seen.sla.resolution_due_at
    assert due is not None
    async with env.db.begin() as conn:  # ...and stamps it after it went pending: no match
        won = await env.repos.tickets.stamp_sla(
            conn, ticket.id, SlaAlarm.BREACH, [(SlaTarget.RESOLUTION, due, due)], at(3, 11, 30)
        )
    assert won is False
    assert await env.repos.tickets.due_for_sla(at(3, 11, 30)) == []


async def test_solving_a_pending_ticket_counts_the_pause(env: Env) -> None:
    ticket = await env.service.create(draft(sla_policy="24x7"), env.agent)  # resolve by 11:00
    env.clock.set(at(3, 9, 15))
    await env.service.update(ticket.id, patch(status=TicketStatus.PENDING), env.agent)
    env.clock.set(at(3, 12))  # the customer answered late; solved at once
    solved = await env.service.update(ticket.id, patch(status=TicketStatus.SOLVED), env.agent)
    assert solved.sla.solved_at == at(3, 12)
    assert solved.sla.resolution_due_at == at(3, 13, 45)  # 11:00 + 2 h 45 paused: met
    assert solved.sla.paused_at is None


async def test_the_migration_pauses_tickets_already_pending(fresh_store_url: str) -> None:
    """0007 on a store with tickets: pending ones pause from their last change."""
    columns = [
        sa.column(name)
        for name in ("subject", "body", "status", "priority", "channel", "sla_policy")
    ] + [sa.column(name, Timestamp) for name in ("created_at", "updated_at", "resolution_due_at")]
    old_tickets = sa.table("tickets", *columns)
    async with Database(fresh_store_url) as db:
        async with db.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0006"))
            for status, changed in (("pending", at(3, 11)), ("open", at(3, 12))):
                await conn.execute(
                    old_tickets.insert().values(
                        subject=status,
                        body="b",
                        status=status,
                        priority="normal",
                        channel="api",
                        sla_policy="default",
                        created_at=at(3, 9),
                        updated_at=changed,
                        resolution_due_at=at(5, 15),
                    )
                )
        await db.migrate()
        found = {
            t.status: t.sla for t in await TicketRepository(db).search(TicketFilter(), limit=10)
        }
    assert found[TicketStatus.PENDING].paused_at == at(3, 11)
    assert found[TicketStatus.OPEN].paused_at is None
    assert (
        found[TicketStatus.PENDING].paused_minutes == found[TicketStatus.OPEN].paused_minutes == 0
    )
