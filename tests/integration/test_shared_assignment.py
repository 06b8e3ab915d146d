"""The store-backed assignment several nodes share, on the machine's PostgreSQL: presence
lapses when a node stops renewing it, VIP conversations are served first, a disabled agent
gets nothing, and two nodes' decisions never overload an agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from kefu.domain.roles import Role
from kefu.store.database import Database
from kefu.store.repositories import Repositories
from kefu.store.shared_assignment import ASSIGNMENT_LOCK, SharedAssignments
from kefu.store.tables import agent_presence
from tests.support.kefu import PASSWORD_HASH
from tests.support.postgres import postgres_database

TTL = timedelta(seconds=20)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
async def repos() -> AsyncIterator[Repositories]:
    async with postgres_database() as url, Database(url) as db:
        await db.migrate()
        yield Repositories.over(db)


async def agent(repos: Repositories, name: str, capacity: int | None = None) -> str:
    created = await repos.agents.create(
        email=f"{name}@example.test",
        name=name,
        role=Role.AGENT,
        password_hash=PASSWORD_HASH,
        now=NOW,
        capacity=capacity,
    )
    return created.id


async def waiting(repos: Repositories, at: datetime, customer_key: str | None = None) -> str:
    visitor = await repos.visitors.create(now=at, name="v")
    conversation = await repos.conversations.create(visitor.id, at)
    if customer_key is not None:
        await repos.conversations.link_customer(conversation.id, customer_key, at)
    return conversation.id


def node(repos: Repositories, name: str) -> SharedAssignments:
    return SharedAssignments(repos.db, name, default_capacity=2, presence_ttl=TTL)


async def test_presence_lapses_when_a_node_stops_renewing(repos: Repositories) -> None:
    a, crashed = node(repos, "a"), node(repos, "crashed")
    alive, gone = await agent(repos, "alive"), await agent(repos, "gone")
    await a.arrive(alive, NOW)
    await crashed.arrive(gone, NOW)
    assert await a.online(NOW) == {alive, gone}

    later = NOW + TTL + timedelta(seconds=1)
    await a.heartbeat(later, [alive])  # node "crashed" never beats again
    assert await a.online(later) == {alive}
    conversation = await waiting(repos, later)
    drained = await a.drain(later)
    assert [(x.conversation_id, x.agent_id) for x in drained.assignments] == [(conversation, alive)]
    assert drained.available == {alive}

    # Long dead rows are deleted, not just ignored.
    await a.heartbeat(later + 2 * TTL, [alive])
    async with repos.db.connect() as conn:
        rows = (await conn.execute(agent_presence.select())).all()
    assert [(row.agent_id, row.node_id) for row in rows] == [(alive, "a")]


async def test_heartbeat_heals_a_lost_arrive_and_a_lost_leave(repos: Repositories) -> None:
    a = node(repos, "a")
    here, left = await agent(repos, "here"), await agent(repos, "left")
    await a.arrive(left, NOW)  # its leave() was lost
    await a.heartbeat(NOW, [here])  # and here's arrive() was never recorded
    assert await a.online(NOW) == {here}


async def test_vip_conversations_are_served_first_then_oldest(repos: Repositories) -> None:
    a = node(repos, "a")
    old = await waiting(repos, NOW)
    newer = await waiting(repos, NOW + timedelta(seconds=1))
    vip = await waiting(repos, NOW + timedelta(seconds=2), customer_key="cust-vip")
    async with repos.db.begin() as conn:
        await repos.routing.set_queue(conn, "cust-vip", "vip", "upgrade", NOW)
    solo = await agent(repos, "solo", capacity=2)
    await a.arrive(solo, NOW)
    drained = await a.drain(NOW + timedelta(seconds=3))
    assert [x.conversation_id for x in drained.assignments] == [vip, old]
    assert drained.waiting == 1
    assert newer not in {x.conversation_id for x in drained.assignments}


async def test_the_vip_lane_reads_the_customer_as_one_node_does(repos: Repositories) -> None:
    """A conversation's customer is the agent's link, else the visitor's *verified*
    external_id: the store's decision and one node's check agree on every case."""
    a = node(repos, "a")
    async with repos.db.begin() as conn:
        await repos.routing.set_queue(conn, "gold", "vip", "upgrade", NOW)

    async def conversation(at: int, external_id: str, verified: bool, link: str | None) -> str:
        when = NOW + timedelta(seconds=at)
        visitor = await repos.visitors.create(
            now=when, external_id=external_id, identity_verified=verified
        )
        created = await repos.conversations.create(visitor.id, when)
        if link is not None:
            await repos.conversations.link_customer(created.id, link, when)
        return created.id

    claimed = await conversation(0, "gold", verified=False, link=None)
    relinked = await conversation(1, "gold", verified=True, link="plain")
    verified = await conversation(2, "gold", verified=True, link=None)
    linked = await conversation(3, "nobody", verified=False, link="gold")
    vip = {verified, linked}
    for conversation_id in (claimed, relinked, verified, linked):
        assert await repos.routing.in_vip_lane(conversation_id) == (conversation_id in vip)
    solo = await agent(repos, "solo", capacity=3)
    await a.arrive(solo, NOW)
    drained = await a.drain(NOW + timedelta(seconds=4))
    assert [x.conversation_id for x in drained.assignments] == [verified, linked, claimed]


async def test_disabled_agents_get_nothing(repos: Repositories) -> None:
    a = node(repos, "a")
    off = await agent(repos, "off")
    await a.arrive(off, NOW)
    await repos.agents.update(off, disabled=True)
    await waiting(repos, NOW)
    drained = await a.drain(NOW)
    assert drained.assignments == []
    assert drained.waiting == 1
    assert drained.available == set()


async def test_away_agents_are_present_but_get_nothing_until_back(repos: Repositories) -> None:
    a = node(repos, "a")
    ann = await agent(repos, "ann")
    await a.arrive(ann, NOW)
    await repos.agents.update(ann, away=True)
    await waiting(repos, NOW)
    drained = await a.drain(NOW)
    assert drained.assignments == [] and drained.waiting == 1
    presence = await a.presence(NOW)
    assert presence.present == {ann} and presence.available == set()
    await repos.agents.update(ann, away=False)
    drained = await a.drain(NOW)
    assert [x.agent_id for x in drained.assignments] == [ann] and drained.available == {ann}


async def test_racing_nodes_never_exceed_capacity(repos: Repositories) -> None:
    nodes = [node(repos, f"n{i}") for i in range(4)]
    agents = [await agent(repos, f"a{i}", capacity=3) for i in range(3)]
    for index, agent_id in enumerate(agents):
        await nodes[index].arrive(agent_id, NOW)
    for index in range(20):
        await waiting(repos, NOW + timedelta(milliseconds=index))
    results = await asyncio.gather(*(n.drain(NOW + timedelta(seconds=1)) for n in nodes * 3))
    given = [x for result in results for x in result.assignments]
    assert len(given) == 9
    assert len({x.conversation_id for x in given}) == 9
    assert sorted(sum(1 for x in given if x.agent_id == a) for a in agents) == [3, 3, 3]
    assert min(result.waiting for result in results) == 11


def test_sqlite_is_refused() -> None:
    class Sqlite:
        dialect = "sqlite"

    with pytest.raises(ValueError, match="PostgreSQL"):
        SharedAssignments(Sqlite(), "n", 1, TTL)  # type: ignore[arg-type]


async def test_decisions_queue_on_the_cluster_lock(repos: Repositories) -> None:
    """A decision waits while another node holds the lock (so no two decide on the same
    snapshot), and proceeds once it is released."""
    a = node(repos, "a")
    solo = await agent(repos, "solo")
    await a.arrive(solo, NOW)
    await waiting(repos, NOW)
    async with repos.db.begin() as other_node:
        await other_node.execute(sa.select(sa.func.pg_advisory_xact_lock(ASSIGNMENT_LOCK)))
        decision = asyncio.create_task(a.drain(NOW))
        done, _ = await asyncio.wait([decision], timeout=0.5)
        assert not done, "a decision ran while another node held the assignment lock"
    drained = await decision
    assert [x.agent_id for x in drained.assignments] == [solo]
