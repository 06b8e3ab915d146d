"""A node with ``bus: nats://``: ingest publishes to JetStream, the rules consumer pulls
from it, and what kefu emits (ticket.created) goes outbox -> relay -> JetStream -> rules.
Each complaint makes one ticket, also across a node restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import outbox, tickets
from tests.support.kefu import Kefu
from tests.support.nats import NatsServer

RULES: list[dict[str, Any]] = [
    {
        "name": "complaint-escalation",
        "on": "customer.complaint",
        "do": [
            {
                "create_ticket": {
                    "subject": "Complaint: {data.summary}",
                    "priority": "high",
                    "role": "supervisor",
                }
            },
        ],
    },
    {
        "name": "urgent-tickets",
        "on": "ticket.created",
        "when": ['data.ticket.priority == "high"'],
        "do": [{"notify": {"role": "supervisor", "message": "ticket {data.ticket_id}"}}],
    },
]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], nats: NatsServer) -> Settings:
    return settings_factory(
        bus=nats.url,
        rules=RULES,
        events={"batch": 100, "jetstream": {"ack_wait_seconds": 2}},
    )


async def count(kefu: Kefu, table: Any) -> int:
    async with kefu.node.repos.db.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar())


async def eventually(check: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def behind_a_marker(kefu: Kefu, token: str, event_id: str) -> None:
    """Send one complaint of a customer of its own and wait for its ticket: the events
    sent before it have been consumed by then (one consumer, in stream order), so what
    they did not create they will not create."""
    marker = {
        "type": "customer.complaint",
        "id": event_id,
        "customer_key": event_id,
        "data": {"summary": "the marker"},
    }
    status, body = await kefu.post("/api/v1/events", token, {"events": [marker]})
    assert status == 202, body

    async def arrived() -> bool:
        query = sa.select(sa.func.count()).select_from(tickets)
        async with kefu.node.repos.db.connect() as conn:
            found = await conn.execute(query.where(tickets.c.customer_key == event_id))
            return bool(found.scalar())

    await eventually(arrived)


async def test_complaints_through_jetstream_make_one_ticket_each(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    socket = await kefu.ws(boss["token"])
    batch = {
        "events": [
            {
                "type": "customer.complaint",
                "id": f"cc-{i}",
                "customer_key": f"C{i}",
                "data": {"summary": f"parcel {i} lost"},
            }
            for i in range(30)
        ]
    }
    for _ in range(2):  # the department sends its batch twice
        status, body = await kefu.post("/api/v1/events", boss["token"], batch)
        assert status == 202, body

    async def thirty() -> bool:
        return await count(kefu, tickets) >= 30

    await eventually(thirty)
    # ticket.created went through the outbox relay and JetStream to the next rule.
    notes = [await socket.expect("notification", rule="urgent-tickets") for _ in range(30)]
    assert len({note["message"] for note in notes}) == 30

    async def relayed() -> bool:
        return await count(kefu, outbox) == 0

    await eventually(relayed)
    # Barrier: one more complaint, sent after both copies; once its ticket is there, every
    # copy before it has been through the consumer too.
    await behind_a_marker(kefu, boss["token"], "cc-marker")
    assert await count(kefu, tickets) == 30 + 1
    status, ready = await kefu.get("/readyz", boss["token"])
    assert status == 200, ready
    await socket.close()


async def test_a_node_restart_applies_nothing_twice(
    settings: Settings, nats: NatsServer, tmp_path: Path
) -> None:
    from aiohttp import ClientSession
    from aiohttp.test_utils import TestServer

    from kefu.bootstrap import running_node
    from kefu.server import create_app

    async def served() -> AsyncIterator[Kefu]:
        async with running_node(settings) as node:
            server = TestServer(create_app(node), host="127.0.0.1")
            await server.start_server()
            try:
                async with ClientSession() as http:
                    yield Kefu(node, server, http)
            finally:
                await server.close()

    first = served()
    kefu = await first.__anext__()
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    events = {
        "events": [
            {
                "type": "customer.complaint",
                "id": f"r-{i}",
                "customer_key": "C1",
                "data": {"summary": str(i)},
            }
            for i in range(200)
        ]
    }
    status, _ = await kefu.post("/api/v1/events", boss["token"], events)
    assert status == 202
    await asyncio.sleep(0.05)  # stop while the consumer is (likely) mid-way
    await first.aclose()

    second = served()
    kefu = await second.__anext__()
    try:
        status, _ = await kefu.post("/api/v1/events", boss["token"], events)  # and again
        assert status == 202

        async def all_there() -> bool:
            return await count(kefu, tickets) >= 200

        await eventually(all_there, timeout=30)
        await behind_a_marker(kefu, boss["token"], "r-marker")  # see the test above
        assert await count(kefu, tickets) == 200 + 1
    finally:
        await second.aclose()
