"""The ticket service and SLA watcher over a real store (SQLite and PostgreSQL), with time
driven by a fake clock: every change leaves exactly its history rows and its outbox
events, checked against the event schemas; warnings and breaches are emitted once, also
when several nodes check at once.

No node runs here, so nothing consumes the outbox: what a change wrote stays to be read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.domain.models import SenderKind
from kefu.domain.roles import Role
from kefu.domain.tickets import (
    Channel,
    Priority,
    TicketPatch,
    TicketStatus,
)
from kefu.errors import BadInput, Conflict, NotFound
from kefu.store.tables import conversations, messages, tickets
from kefu.store.tickets import TicketFilter
from kefu.store.unit_of_work import unit_of_work, unit_of_work_factory
from kefu.tickets import events
from kefu.tickets.service import SYSTEM, rule_actor
from kefu.tickets.sla_watch import SlaWatcher
from tests.support.tickets import MONDAY, Env, at, draft, patch, ticket_env


@pytest.fixture
async def env(store_url: str) -> AsyncIterator[Env]:
    async with ticket_env(store_url) as made:
        yield made


async def test_a_new_ticket_has_its_targets_its_history_row_and_one_event(env: Env) -> None:
    ticket = await env.service.create(draft(priority=Priority.URGENT), env.agent)
    assert ticket.status is TicketStatus.NEW
    assert ticket.sla.policy == "default"
    assert ticket.sla.first_response_due_at == at(3, 9, 30)  # urgent: 30 business minutes
    assert ticket.sla.resolution_due_at == at(3, 13)  # urgent: 240
    assert await env.repos.tickets.get(ticket.id) == ticket
    assert await env.history(ticket.id) == [
        ("created", env.agent.key, {"channel": "api", "status": "new", "priority": "urgent"})
    ]
    [created] = await env.events()
    assert created.type == "ticket.created"
    assert created.customer_key == "C-1"
    assert created.data == {
        "ticket_id": str(ticket.id),
        "ticket": events.ticket_payload(ticket),
        "actor": env.agent.key,
    }


async def test_every_update_leaves_its_history_rows_and_exactly_one_event(env: Env) -> None:
    ticket = await env.service.create(draft(), env.agent)
    await env.events()
    other = await env.repos.agents.create(
        email="bo@example.test", name="Bo", role=Role.AGENT, password_hash="x", now=MONDAY
    )

    env.clock.set(at(3, 10))
    opened = await env.service.update(ticket.id, patch(status=TicketStatus.OPEN), env.agent)
    assert opened.status is TicketStatus.OPEN and opened.updated_at == at(3, 10)
    [event] = await env.events()
    assert event.type == "ticket.updated"
    assert event.data == {
        "ticket_id": str(ticket.id),
        "changes": {"status": {"before": "new", "after": "open"}},
        "actor": env.agent.key,
    }

    # The same status again is no change: no row, no event.
    same = await env.service.update(ticket.id, patch(status=TicketStatus.OPEN), env.agent)
    assert same == opened
    assert await env.events() == []

    # Three fields at once: three history rows, one event; the due dates move along.
    changed = await env.service.update(
        ticket.id,
        patch(priority=Priority.URGENT, assignee_id=other.id, queue="vip"),
        env.agent,
    )
    assert changed.sla.first_response_due_at == at(3, 9, 30)
    assert changed.sla.resolution_due_at == at(3, 13)
    [event] = await env.events()
    assert event.data["changes"] == {
        "priority": {"before": "normal", "after": "urgent"},
        "assignee_id": {"before": None, "after": other.id},
        "queue": {"before": None, "after": "vip"},
        "first_response_due_at": {
            "before": "2031-03-03T13:00:00Z",
            "after": "2031-03-03T09:30:00Z",
        },
        "resolution_due_at": {"before": "2031-03-05T15:00:00Z", "after": "2031-03-03T13:00:00Z"},
    }
    actions = [action for action, _, _ in await env.history(ticket.id)]
    assert actions == ["created", "status", "priority", "assignee", "queue"]
    priority_row = (await env.history(ticket.id))[2][2]
    assert priority_row["after"] == "urgent"
    assert priority_row["resolution_due_at"]["after"] == "2031-03-03T13:00:00Z"

    # Unassign, solve (solved_at), reopen (cleared), solve, close.
    env.clock.set(at(3, 11))
    solved = await env.service.update(
        ticket.id, patch(status=TicketStatus.SOLVED, assignee_id=None), env.agent
    )
    assert solved.assignee_id is None and solved.sla.solved_at == at(3, 11)
    reopened = await env.service.update(ticket.id, patch(status=TicketStatus.OPEN), env.agent)
    assert reopened.sla.solved_at is None
    await env.service.update(ticket.id, patch(status=TicketStatus.SOLVED), env.agent)
    closed = await env.service.update(ticket.id, patch(status=TicketStatus.CLOSED), env.agent)
    types = [(e.type, sorted(e.data["changes"])) for e in await env.events()]
    assert types == [
        ("ticket.updated", ["assignee_id", "solved_at", "status"]),
        ("ticket.updated", ["solved_at", "status"]),
        ("ticket.updated", ["solved_at", "status"]),
        ("ticket.updated", ["status"]),
    ]
    assert closed.sla.solved_at is not None

    # Closed is final, for every field; the refusal changes nothing.
    history_before = await env.history(ticket.id)
    for refused in (patch(status=TicketStatus.OPEN), patch(priority=Priority.LOW)):
        with pytest.raises(Conflict) as raised:
            await env.service.update(ticket.id, refused, env.agent)
        assert raised.value.code == "illegal_transition"
    assert await env.repos.tickets.get(ticket.id) == closed
    assert await env.history(ticket.id) == history_before
    assert await env.events() == []


async def test_bad_input_changes_nothing(env: Env) -> None:
    ticket = await env.service.create(draft(), env.agent)
    await env.events()
    attempts: list[tuple[Any, type[Exception], str]] = [
        (patch(status=TicketStatus.CLOSED), Conflict, "illegal_transition"),
        (TicketPatch(frozenset()), BadInput, "empty_patch"),
        (patch(assignee_id="agt_nobody"), BadInput, "unknown_agent"),
        (patch(queue="Not A Queue"), BadInput, "invalid_ticket"),
    ]
    for bad, error, code in attempts:
        with pytest.raises(error) as raised:
            await env.service.update(ticket.id, bad, env.agent)
        assert getattr(raised.value, "code", None) == code
    with pytest.raises(NotFound):
        await env.service.update(ticket.id + 1000, patch(status=TicketStatus.OPEN), env.agent)
    for bad_draft in (draft(subject="  "), draft(body=""), draft(subject="x" * 301)):
        with pytest.raises(BadInput):
            await env.service.create(bad_draft, env.agent)
    with pytest.raises(BadInput):
        await env.service.comment(ticket.id, " \n ", env.agent)
    assert await env.repos.tickets.get(ticket.id) == ticket
    assert [a for a, _, _ in await env.history(ticket.id)] == ["created"]
    assert await env.repos.tickets.comments(ticket.id) == []
    assert await env.events() == []
    async with env.db.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tickets))).scalar() == 1


async def test_comments_notes_and_the_first_response(env: Env) -> None:
    ticket = await env.service.create(draft(), env.agent)
    await env.events()
    env.clock.set(at(3, 9, 10))
    note = await env.service.comment(ticket.id, "Checking the carrier", env.agent, internal=True)
    env.clock.set(at(3, 9, 20))
    await env.service.comment(ticket.id, "Auto-acknowledged", rule_actor("ack"))
    assert (await env.service.get(ticket.id)).sla.first_responded_at is None  # neither counts

    env.clock.set(at(3, 9, 30))
    reply = await env.service.comment(ticket.id, "We are on it!", env.agent)
    env.clock.set(at(3, 9, 40))
    await env.service.comment(ticket.id, "Update: found it", env.agent)
    stored = await env.service.get(ticket.id)
    assert stored.sla.first_responded_at == at(3, 9, 30)
    assert stored.updated_at == at(3, 9, 40)

    listed = await env.service.comments(ticket.id)
    assert [(c.body, c.internal, c.author) for c in listed] == [
        ("Checking the carrier", True, env.agent.key),
        ("Auto-acknowledged", False, "rule:ack"),
        ("We are on it!", False, env.agent.key),
        ("Update: found it", False, env.agent.key),
    ]
    assert listed[0] == note and listed[2] == reply
    assert [c.body for c in await env.service.comments(ticket.id, after=reply.id)] == [
        "Update: found it"
    ]
    emitted = await env.events()
    assert [e.type for e in emitted] == ["ticket.commented"] * 4
    assert emitted[0].data == {
        "ticket_id": str(ticket.id),
        "comment_id": str(note.id),
        "internal": True,
        "author": env.agent.key,
        "author_name": "Ann",
        "body": "Checking the carrier",
    }
    rows = [(a, d) for a, _, d in await env.history(ticket.id) if a == "comment"]
    assert [d.get("first_response", False) for _, d in rows] == [False, False, True, False]

    for status in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        await env.service.update(ticket.id, patch(status=status), env.agent)
    with pytest.raises(Conflict) as raised:
        await env.service.comment(ticket.id, "too late", env.agent)
    assert raised.value.code == "ticket_closed"


async def test_the_watcher_announces_each_warning_and_breach_once(env: Env) -> None:
    ticket = await env.service.create(draft(), env.agent)  # normal: 13:00 and Wed 15:00
    assert ticket.sla.first_response_due_at == at(3, 13)
    assert ticket.sla.resolution_due_at == at(5, 15)
    await env.events()

    async def announced(moment: datetime) -> list[tuple[str, str, str]]:
        env.clock.set(moment)
        count = await env.watcher.check()
        found = [(e.type, e.data["target"], e.data["due_at"]) for e in await env.events()]
        assert count == len(found)
        assert await env.watcher.check() == 0  # and never again
        assert await env.events() == []
        return found

    assert await announced(at(3, 12, 29)) == []
    assert await announced(at(3, 12, 30)) == [
        ("ticket.sla.warning", "first_response", "2031-03-03T13:00:00Z")
    ]
    assert (await env.service.get(ticket.id)).sla.warned_at == at(3, 12, 30)
    assert await announced(at(3, 13)) == [
        ("ticket.sla.breached", "first_response", "2031-03-03T13:00:00Z")
    ]
    env.clock.set(at(3, 14))
    await env.service.comment(ticket.id, "Sorry for the wait", env.agent)
    await env.events()
    assert await announced(at(5, 14, 29)) == []
    assert await announced(at(5, 14, 30)) == [
        ("ticket.sla.warning", "resolution", "2031-03-05T15:00:00Z")
    ]
    assert await announced(at(5, 15)) == [
        ("ticket.sla.breached", "resolution", "2031-03-05T15:00:00Z")
    ]
    rows = [(a, actor, d) for a, actor, d in await env.history(ticket.id) if a.startswith("sla.")]
    assert rows == [
        ("sla.warning", None, {"target": "first_response", "due_at": "2031-03-03T13:00:00Z"}),
        ("sla.breach", None, {"target": "first_response", "due_at": "2031-03-03T13:00:00Z"}),
        ("sla.warning", None, {"target": "resolution", "due_at": "2031-03-05T15:00:00Z"}),
        ("sla.breach", None, {"target": "resolution", "due_at": "2031-03-05T15:00:00Z"}),
    ]
    final = await env.service.get(ticket.id)
    assert final.sla.warned_at == at(5, 14, 30) and final.sla.breached_at == at(5, 15)


async def test_several_nodes_checking_at_once_announce_once(env: Env) -> None:
    made = await env.service.create_many([draft(subject=f"t{n}") for n in range(6)], SYSTEM)
    await env.events()
    env.clock.set(at(10, 9))  # a week later: every target of every ticket has passed
    others = [
        SlaWatcher(
            unit_of_work_factory(env.db), env.repos.tickets, env.service.rules, env.clock, 3600
        )
        for _ in range(2)
    ]
    counts = await asyncio.gather(env.watcher.check(), *(w.check() for w in others))
    emitted = await env.events()
    assert sum(counts) == len(emitted) == 6 * 4
    seen = {(e.data["ticket_id"], e.type, e.data["target"]) for e in emitted}
    assert len(seen) == 24
    assert {e.data["ticket_id"] for e in emitted} == {str(t.id) for t in made}
    assert [await w.check() for w in (env.watcher, *others)] == [0, 0, 0]


async def test_solved_tickets_and_wall_time_policies(env: Env) -> None:
    env.clock.set(at(7, 17))  # Friday, an hour before closing
    wall = await env.service.create(draft(sla_policy="24x7"), env.agent)
    business = await env.service.create(draft(sla_policy="unknown-falls-back"), env.agent)
    assert wall.sla.policy == "24x7"
    assert wall.sla.first_response_due_at == at(7, 18)
    assert wall.sla.resolution_due_at == at(7, 19)
    assert business.sla.policy == "default"
    assert business.sla.first_response_due_at == at(10, 12)  # Monday
    env.clock.set(at(7, 17, 45))
    await env.service.update(wall.id, patch(status=TicketStatus.SOLVED), env.agent)
    await env.events()
    env.clock.set(at(8, 12))  # Saturday: the wall-time targets have passed, but it is solved
    assert await env.watcher.check() == 0
    env.clock.set(at(10, 11, 30))
    assert await env.watcher.check() == 1  # the business one warns on Monday
    [event] = await env.events()
    assert (event.type, event.data["ticket_id"]) == ("ticket.sla.warning", str(business.id))


async def test_creation_in_a_callers_transaction_is_atomic_with_it(env: Env) -> None:
    vip = rule_actor("vip-complaints")
    with pytest.raises(RuntimeError):
        async with unit_of_work(env.db) as uow:
            made = await env.service.create_many(
                [draft(channel=Channel.RULE), draft(channel=Channel.RULE, priority=Priority.HIGH)],
                vip,
                uow=uow,
            )
            assert made[0].id < made[1].id
            raise RuntimeError("the rest of the rule's effects failed")
    assert await env.service.search(TicketFilter()) == []
    assert await env.events() == []

    async with unit_of_work(env.db) as uow:
        made = await env.service.create_many([draft(channel=Channel.RULE)] * 3, vip, uow=uow)
    listed = await env.service.search(TicketFilter())
    assert [t.id for t in listed] == [t.id for t in reversed(made)]
    assert {(t.channel, t.created_by) for t in listed} == {(Channel.RULE, "rule:vip-complaints")}
    emitted = await env.events()
    assert [e.data["ticket_id"] for e in emitted] == [str(t.id) for t in made]
    assert {e.data["actor"] for e in emitted} == {"rule:vip-complaints"}


async def test_a_ticket_from_an_offline_message(env: Env) -> None:
    visitor = await env.repos.visitors.create(
        now=MONDAY, name="Vera", external_id="C-77", identity_verified=True
    )
    left = await env.repos.offline.add(
        visitor.id, "Please call me back\nabout my refund.", MONDAY, name="Vera", email="v@x.test"
    )
    ticket, created = await env.service.from_offline_message(left.id, env.agent)
    assert created
    assert ticket.subject == "Please call me back about my refund."
    assert ticket.body.startswith("Please call me back\nabout my refund.")
    assert "Vera <v@x.test>" in ticket.body
    assert (ticket.channel, ticket.customer_key) == (Channel.OFFLINE, "C-77")
    [message] = await env.repos.offline.list()
    assert message.ticket_id == str(ticket.id)
    assert [e.type for e in await env.events()] == ["ticket.created"]

    again, created = await env.service.from_offline_message(left.id, env.agent)
    assert (again, created) == (ticket, False)
    assert await env.events() == []
    with pytest.raises(NotFound) as raised:
        await env.service.from_offline_message("off_nope", env.agent)
    assert raised.value.code == "offline_message_not_found"


async def test_an_unverified_visitor_gives_no_customer_key(env: Env) -> None:
    visitor = await env.repos.visitors.create(now=MONDAY, external_id="C-claimed")
    left = await env.repos.offline.add(visitor.id, "hi", MONDAY, name=None, email=None)
    ticket, _ = await env.service.from_offline_message(left.id, SYSTEM)
    assert ticket.customer_key is None
    assert ticket.body.endswith("— a visitor, left while no agent was online")


async def test_a_ticket_from_a_conversation_once_even_when_asked_twice_at_once(env: Env) -> None:
    agent_id = env.agent.key.split(":", 1)[1] if env.agent.key else ""
    visitor = await env.repos.visitors.create(now=MONDAY, name="Vera")
    conversation = await env.repos.conversations.create(visitor.id, MONDAY)
    lines = [
        (SenderKind.BOT, None, "kefu", "Welcome!"),
        (SenderKind.VISITOR, visitor.id, "Vera", "  My order 123\nnever arrived  "),
        (SenderKind.AGENT, agent_id, "Ann", "Sorry! Let me check."),
    ]
    async with env.db.begin() as conn:
        for n, (kind, sender, name, body) in enumerate(lines):
            await conn.execute(
                messages.insert().values(
                    conversation_id=conversation.id,
                    sender_kind=kind.value,
                    sender_id=sender,
                    sender_name=name,
                    body=body,
                    created_at=MONDAY + timedelta(minutes=n),
                )
            )
        await conn.execute(
            conversations.update()
            .where(conversations.c.id == conversation.id)
            .values(status="assigned", assignee_id=agent_id, customer_key="C-9")
        )

    results = await asyncio.gather(
        env.service.from_conversation(conversation.id, env.agent, priority=Priority.HIGH),
        env.service.from_conversation(conversation.id, env.agent),
    )
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    ticket = results[0][0]
    assert ticket.subject == "My order 123 never arrived"
    assert ticket.body.splitlines() == [  # the bot's "Welcome!" left out (issue 15 item 12)
        "[2031-03-03 09:01 UTC] Vera:   My order 123",
        "never arrived  ",
        "[2031-03-03 09:02 UTC] Ann: Sorry! Let me check.",
    ]
    assert ticket.conversation_id == conversation.id
    assert (ticket.customer_key, ticket.assignee_id) == ("C-9", agent_id)
    assert ticket.channel is Channel.CONVERSATION
    assert [e.type for e in await env.events()] == ["ticket.created"]
    with pytest.raises(NotFound):
        await env.service.from_conversation("conv_nope", env.agent)


async def test_bulk_created_tickets_get_their_own_ids(env: Env) -> None:
    await env.service.create(draft(subject="before"), SYSTEM)
    made = await env.service.create_many([draft(subject=f"bulk {n}") for n in range(25)], SYSTEM)
    assert len({t.id for t in made}) == 25
    for ticket in made:
        stored = await env.service.get(ticket.id)
        assert stored.subject == ticket.subject
        history = await env.history(ticket.id)
        assert [action for action, _, _ in history] == ["created"]
