"""Two nodes sharing PostgreSQL and NATS behave as one: a message accepted on node A
reaches a socket on node B, console frames reach agents on every node, a change made on
one node is seen by the other's cache, a revoked token closes sockets everywhere, and the
link survives a NATS restart."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NATS

from kefu.config import Settings, load_settings
from kefu.domain.roles import Role
from kefu.store.tables import conversations
from tests.conftest import Kefu, Socket, postgres_database, serving
from tests.integration.test_jetstream import NatsServer


@pytest.fixture
async def cluster_settings(tmp_path: Path, nats: NatsServer) -> AsyncIterator[list[Settings]]:
    """Two nodes' settings: one store, one NATS, one token secret; own data dirs."""
    secret = secrets.token_hex(32)
    subject = f"kefu.live.t{secrets.token_hex(4)}"
    async with postgres_database() as store:
        yield [
            load_settings(
                None,
                data_dir=tmp_path / name,
                store=store,
                bus=nats.url,
                cluster={"subject": subject},
                auth={"secret_key": secret},
            )
            for name in ("a", "b")
        ]


@pytest.fixture
async def nodes(cluster_settings: list[Settings]) -> AsyncIterator[tuple[Kefu, Kefu]]:
    async with serving(cluster_settings[0]) as a, serving(cluster_settings[1]) as b:
        yield a, b


async def test_chat_between_sockets_on_two_nodes(nodes: tuple[Kefu, Kefu]) -> None:
    a, b = nodes
    agent = await b.add_agent("Bea")
    agent_ws = await b.ws(agent["token"])
    visitor = await a.visitor(name="Vic")
    visitor_ws = await a.ws(visitor["token"])

    ack = await visitor_ws.send_message("hello from node A")
    conversation_id = ack["conversation_id"]
    # Node A gives the new conversation to the agent online on node B, who gets it live,
    # first message included; the visitor is not told that nobody is online.
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    first = await message_new(agent_ws, ack["message_id"])
    assert first["message"]["body"] == "hello from node A"
    await visitor_ws.expect("conversation.assigned", agent_id=agent["id"])
    status, page = await a.get(f"/api/v1/conversations/{conversation_id}/messages", agent["token"])
    assert status == 200
    assert [m["sender"]["kind"] for m in page["items"]] == ["visitor", "bot"]  # welcome only

    reply = await agent_ws.send_message("hello from node B", conversation_id=conversation_id)
    got = await message_new(visitor_ws, reply["message_id"])
    assert got["message"]["body"] == "hello from node B"

    # Node A's cache learnt of the assignment: the visitor's next message reaches B.
    sent = await visitor_ws.send_message("and back", conversation_id=conversation_id)
    new = await message_new(agent_ws, sent["message_id"])
    assert new["message"]["body"] == "and back"

    status, _ = await b.post(f"/api/v1/conversations/{conversation_id}/close", agent["token"])
    assert status == 200
    await visitor_ws.expect("conversation.closed", conversation_id=conversation_id)
    # Node A refuses a message into the conversation node B closed.
    await visitor_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "after-close",
            "body": "still there?",
            "conversation_id": conversation_id,
        }
    )
    error = await visitor_ws.expect("error")
    assert error["code"] == "conversation_closed"
    await agent_ws.close()
    await visitor_ws.close()


async def test_supervisor_on_other_node_sees_the_conversation_list_move(
    nodes: tuple[Kefu, Kefu],
) -> None:
    a, b = nodes
    agent = await a.add_agent("Al")
    agent_ws = await a.ws(agent["token"])
    visitor = await a.visitor(name="Val")
    visitor_ws = await a.ws(visitor["token"])
    ack = await visitor_ws.send_message("is anyone there?")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)

    # A supervisor on node B (online after the assignment, so not its assignee) follows
    # the list: "every supervisor" is resolved on each node.
    supervisor = await b.add_agent("Sue", role=Role.SUPERVISOR)
    supervisor_ws = await b.ws(supervisor["token"])
    await visitor_ws.send_message("second", conversation_id=conversation_id)
    moved = await supervisor_ws.expect("conversation.updated", conversation_id=conversation_id)
    assert moved["assignee_id"] == agent["id"]
    assert moved["last_message"]["body"] == "second"
    for ws in (supervisor_ws, agent_ws, visitor_ws):
        await ws.close()


async def test_logout_on_one_node_closes_sockets_on_the_other(nodes: tuple[Kefu, Kefu]) -> None:
    a, b = nodes
    agent = await a.add_agent("Ann")
    socket_on_b = await b.ws(agent["token"])
    async with a.http.post(
        a.url("/api/v1/auth/logout"), headers={"Authorization": f"Bearer {agent['token']}"}
    ) as resp:
        assert resp.status == 204
    error = await socket_on_b.expect("error")
    assert error["code"] == "token_revoked"
    closing = await socket_on_b.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert socket_on_b.ws.close_code == 4401


async def test_admin_edits_on_one_node_apply_on_the_other(nodes: tuple[Kefu, Kefu]) -> None:
    a, b = nodes
    admin = await a.add_agent("Root", role=Role.ADMIN)
    visitor = await b.visitor(name="Kw")
    status, _ = await a.post(
        "/api/v1/auto-replies",
        admin["token"],
        {"keywords": ["refund"], "reply": "Refunds take 3-5 days."},
    )
    assert status == 201
    visitor_ws = await b.ws(visitor["token"])
    conversation_id = None
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the reload reaches node B a moment after the REST answer on node A
        ack = await visitor_ws.send_message("about my refund", conversation_id=conversation_id)
        conversation_id = ack["conversation_id"]
        with contextlib.suppress(TimeoutError):
            while True:
                frame = await visitor_ws.expect("message.new", timeout=0.3)
                if frame["message"]["body"] == "Refunds take 3-5 days.":
                    break
            break
        assert asyncio.get_running_loop().time() < deadline, "node B never auto-replied"
    await visitor_ws.close()

    # Blocking this address on node A keeps it off node B's sockets too.
    status, _ = await a.post(
        "/api/v1/blacklist", admin["token"], {"network": "127.0.0.1/32", "reason": "test"}
    )
    assert status == 201
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        refused = await b.ws(visitor["token"])
        with contextlib.suppress(TimeoutError):
            error = await refused.expect("error", timeout=0.5)
            assert error["code"] == "blocked"
            break
        await refused.close()
        assert asyncio.get_running_loop().time() < deadline, "node B never applied the block"


async def test_a_ticket_made_on_one_node_reaches_consoles_on_the_other(
    nodes: tuple[Kefu, Kefu],
) -> None:
    a, b = nodes
    supervisor = await b.add_agent("Sup", role=Role.SUPERVISOR)
    supervisor_ws = await b.ws(supervisor["token"])
    agent = await a.add_agent("Maker")
    status, ticket = await a.post(
        "/api/v1/tickets",
        agent["token"],
        {"customer_key": "C-9", "subject": "Printer on fire", "body": "Smoke", "priority": "high"},
    )
    assert status == 201
    created = await supervisor_ws.expect("ticket.created")
    assert created["ticket"]["id"] == ticket["id"]
    assert created["ticket"]["subject"] == "Printer on fire"
    await supervisor_ws.close()


async def test_two_tabs_on_two_nodes_open_one_conversation(nodes: tuple[Kefu, Kefu]) -> None:
    a, b = nodes
    for round_ in range(5):
        visitor = await a.visitor(name=f"Twin {round_}")
        tab_a, tab_b = await a.ws(visitor["token"]), await b.ws(visitor["token"])
        first, second = await asyncio.gather(
            tab_a.send_message("from tab A"), tab_b.send_message("from tab B")
        )
        assert first["conversation_id"] == second["conversation_id"]
        await tab_a.close()
        await tab_b.close()


async def test_foreign_messages_on_the_subject_are_ignored(
    nodes: tuple[Kefu, Kefu], cluster_settings: list[Settings], nats: NatsServer
) -> None:
    a, b = nodes
    stranger = NATS()
    await stranger.connect(nats.url)
    for junk in (b"", b"not msgpack", b"\x92\x01\x02", b"\x91\x95\x00\x90\x00\xc4\x00\xc0"):
        await stranger.publish(cluster_settings[0].cluster.subject, junk)
    await stranger.flush()
    await stranger.close()
    # Both nodes still relay.
    agent = await b.add_agent("Bo")
    agent_ws = await b.ws(agent["token"])
    visitor = await a.visitor(name="Vi")
    visitor_ws = await a.ws(visitor["token"])
    ack = await visitor_ws.send_message("still working?")
    opened = await agent_ws.expect("conversation.opened")
    assert opened["conversation"]["id"] == ack["conversation_id"]
    await agent_ws.close()
    await visitor_ws.close()


async def test_frames_cross_again_after_nats_restarts(
    nodes: tuple[Kefu, Kefu], nats: NatsServer
) -> None:
    a, b = nodes
    agent = await b.add_agent("Ben")
    agent_ws = await b.ws(agent["token"])
    nats.stop()
    await asyncio.sleep(0.5)
    nats.start()
    visitor = await a.visitor(name="Viv")
    visitor_ws = await a.ws(visitor["token"])
    # Both links reconnect on their own; until then frames may be lost (live only: the
    # message is stored), so the visitor keeps writing until the agent hears one.
    deadline = asyncio.get_running_loop().time() + 20
    conversation_id: str | None = None
    while True:
        assert asyncio.get_running_loop().time() < deadline, "no frame crossed after restart"
        ack = await visitor_ws.send_message("after the restart", conversation_id=conversation_id)
        conversation_id = ack["conversation_id"]
        with contextlib.suppress(TimeoutError):
            await agent_ws.expect("message.new", timeout=0.5)
            break
    await agent_ws.close()
    await visitor_ws.close()


async def message_new(ws: Socket, message_id: str) -> dict[str, Any]:
    while True:
        frame = await ws.expect("message.new")
        if frame["message"]["id"] == message_id:
            return frame


async def test_capacity_holds_across_nodes_and_the_queue_drains_on_close(
    nodes: tuple[Kefu, Kefu],
) -> None:
    a, b = nodes
    agent = await b.add_agent("Cap", capacity=1)
    agent_ws = await b.ws(agent["token"])
    first = await a.ws((await a.visitor(name="One"))["token"])
    second = await a.ws((await a.visitor(name="Two"))["token"])
    one = (await first.send_message("first"))["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=one)
    two = (await second.send_message("second"))["conversation_id"]
    # Waiting conversations are every agent's business: the queue frame crosses nodes.
    opened = await agent_ws.expect("conversation.opened")
    while opened["conversation"]["id"] != two:
        opened = await agent_ws.expect("conversation.opened")
    assert opened["conversation"]["status"] == "waiting"
    assert await waiting_count(a) == 1  # capacity 1: the second waits, on either node

    status, _ = await a.post(f"/api/v1/conversations/{one}/close", agent["token"])
    assert status == 200
    await agent_ws.expect("conversation.assigned", conversation_id=two)
    await second.expect("conversation.assigned", conversation_id=two)
    assert await waiting_count(a) == 0
    for ws in (agent_ws, first, second):
        await ws.close()


async def test_many_visitors_on_both_nodes_never_exceed_capacity(
    nodes: tuple[Kefu, Kefu],
) -> None:
    a, b = nodes
    agents = [await a.add_agent("Ada", capacity=3), await b.add_agent("Bob", capacity=3)]
    agent_sockets = [await a.ws(agents[0]["token"]), await b.ws(agents[1]["token"])]
    visitors = []
    for index in range(10):
        node = (a, b)[index % 2]
        visitors.append(await node.ws((await node.visitor(name=f"V{index}"))["token"]))
    # All at once, from both nodes: decisions race for the cluster lock.
    await asyncio.gather(*(ws.send_message(f"hi {i}") for i, ws in enumerate(visitors)))
    loads = await assigned_loads(a)
    assert loads == {agents[0]["id"]: 3, agents[1]["id"]: 3}
    assert await waiting_count(a) == 4
    for ws in agent_sockets + visitors:
        await ws.close()


async def test_an_agent_leaving_their_node_goes_offline_everywhere(
    nodes: tuple[Kefu, Kefu],
) -> None:
    a, b = nodes
    agent = await b.add_agent("Gone")
    agent_ws = await b.ws(agent["token"])
    await until_online(a, agent["id"], True)
    # Node A's REST answers say so at once: the widget's availability and the team list.
    async with a.http.get(a.url("/api/v1/availability")) as resp:
        assert (await resp.json())["agents_online"] is True
    colleague = await a.add_agent("Colleague")
    status, team = await a.get("/api/v1/team", colleague["token"])
    assert status == 200
    assert {m["id"]: m["online"] for m in team}[agent["id"]] is True
    await agent_ws.close()
    await until_online(a, agent["id"], False)
    visitor_ws = await a.ws((await a.visitor(name="Late"))["token"])
    ack = await visitor_ws.send_message("anyone?")
    # Not given to the agent who left; the visitor is told nobody is online.
    assert await waiting_count(a) == 1
    status, page = await a.get(
        f"/api/v1/conversations/{ack['conversation_id']}/messages", agent["token"]
    )
    assert status == 200
    assert [m["sender"]["kind"] for m in page["items"]] == ["visitor", "bot", "bot"]
    await visitor_ws.close()


async def waiting_count(kefu: Kefu) -> int:
    async with kefu.node.repos.db.connect() as conn:
        result = await conn.execute(
            sa.select(sa.func.count())
            .select_from(conversations)
            .where(conversations.c.status == "waiting")
        )
        return int(result.scalar_one())


async def assigned_loads(kefu: Kefu) -> dict[str, int]:
    async with kefu.node.repos.db.connect() as conn:
        rows = await conn.execute(
            sa.select(conversations.c.assignee_id, sa.func.count())
            .where(conversations.c.status == "assigned")
            .group_by(conversations.c.assignee_id)
        )
        return {row[0]: int(row[1]) for row in rows}


async def until_online(kefu: Kefu, agent_id: str, online: bool) -> None:
    """Ask the store as any node would: is the agent online somewhere?"""
    shared = kefu.node.chat._shared
    assert shared is not None
    deadline = asyncio.get_running_loop().time() + 10
    while (agent_id in await shared.online(kefu.node.clock.now())) is not online:
        assert asyncio.get_running_loop().time() < deadline, f"online never became {online}"
        await asyncio.sleep(0.05)
