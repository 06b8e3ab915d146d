"""Two nodes sharing PostgreSQL and NATS behave as one: a message accepted on node A
reaches a socket on node B, console frames reach agents on every node, a change made on
one node is seen by the other's cache, a revoked token closes sockets everywhere, and the
link survives a NATS restart. Frames for "every supervisor" cross only to nodes that
announced a supervisor, and every doubt (a peer gone quiet) publishes them again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from kefu.chat.store_assigner import StoreAssigner
from kefu.cluster import envelope
from kefu.cluster.envelope import Announce, Audience, Frame
from kefu.cluster.relay import LiveRelay
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.observability import metrics
from kefu.store.tables import conversations
from tests.support.cluster import QUICK_HEARTBEAT, two_nodes_settings
from tests.support.kefu import Kefu, Socket, serving
from tests.support.nats import NatsServer


@pytest.fixture
async def quick_settings(tmp_path: Path, nats: NatsServer) -> AsyncIterator[list[Settings]]:
    async with two_nodes_settings(tmp_path, nats, **QUICK_HEARTBEAT) as settings:
        yield settings


@pytest.fixture
async def quick_nodes(quick_settings: list[Settings]) -> AsyncIterator[tuple[Kefu, Kefu]]:
    async with serving(quick_settings[0]) as a, serving(quick_settings[1]) as b:
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
    # Updates from before it connected may still be on their way across the nodes (the
    # assignment's, whose last message is the bot's welcome): the one for "second" comes.
    while True:
        moved = await supervisor_ws.expect("conversation.updated", conversation_id=conversation_id)
        if moved["last_message"]["body"] == "second":
            break
    assert moved["assignee_id"] == agent["id"]
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
    assigner = kefu.node.chat.assigner
    assert isinstance(assigner, StoreAssigner)
    shared = assigner.shared
    deadline = asyncio.get_running_loop().time() + 10
    while (agent_id in await shared.online(kefu.node.clock.now())) is not online:
        assert asyncio.get_running_loop().time() < deadline, f"online never became {online}"
        await asyncio.sleep(0.05)


# -- audiences: frames for "every supervisor" cross only where a supervisor is -------------


def relay_of(kefu: Kefu) -> LiveRelay:
    relay = kefu.node.hub._relay
    assert isinstance(relay, LiveRelay)
    return relay


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


class Eavesdropper:
    """A plain NATS client on the nodes' subject, decoding what they publish."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.items: list[envelope.Item] = []
        self.nc = NATS()

    async def start(self, subject: str) -> None:
        await self.nc.connect(self.url)

        async def heard(msg: Msg) -> None:
            self.items.extend(envelope.decode(msg.data))

        await self.nc.subscribe(subject, cb=heard)
        await self.nc.flush()

    def audience_frames(self, audience: Audience) -> list[Frame]:
        """Frames naming nobody but ``audience``: the ones routing may keep home."""
        return [
            item
            for item in self.items
            if isinstance(item, Frame) and not item.keys and item.audience is audience
        ]

    async def caught_up(self, visitor_ws: Socket, conversation_id: str) -> None:
        """Barrier: everything node A published so far has arrived here.

        A's relay publishes what it is given in order, on one connection; so once a frame
        A was given after the ones under test arrives, they would have too. That frame is
        the visitor's typing: it names the assignee, and frames naming someone always
        cross (only frames for a whole audience may stay home)."""
        mark = len(self.items)
        await visitor_ws.send({"type": "typing", "conversation_id": conversation_id})

        def typing_heard() -> bool:
            return any(
                isinstance(item, Frame) and b'"type":"typing"' in item.frame
                for item in self.items[mark:]
            )

        await until(typing_heard, "the visitor's typing on NATS")


@pytest.fixture
async def eavesdropper(
    quick_settings: list[Settings], nats: NatsServer
) -> AsyncIterator[Eavesdropper]:
    listener = Eavesdropper(nats.url)
    await listener.start(quick_settings[0].cluster.subject)
    yield listener
    await listener.nc.close()


async def test_list_frames_stay_home_without_a_supervisor_elsewhere_and_follow_one_who_comes(
    quick_nodes: tuple[Kefu, Kefu], eavesdropper: Eavesdropper
) -> None:
    a, b = quick_nodes
    relay_a = relay_of(a)
    # Node A: an agent, a supervisor (online after the assignment, so not its assignee)
    # and a visitor; node B: nobody yet.
    agent = await a.add_agent("Al")
    agent_ws = await a.ws(agent["token"])
    visitor_ws = await a.ws((await a.visitor(name="Vera"))["token"])
    ack = await visitor_ws.send_message("is anyone there?")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    local_supervisor = await a.add_agent("Sam", role=Role.SUPERVISOR)
    local_ws = await a.ws(local_supervisor["token"])
    # Past A's listening after start, having heard B hold nothing.
    await until(lambda: not relay_a.wanted(Audience.SUPERVISORS), "A knows B has no supervisor")
    assert list(relay_a.peers().values()) == [frozenset()]

    skipped = skipped_count()
    eavesdropper.items.clear()
    second = await visitor_ws.send_message("hello?", conversation_id=conversation_id)
    # A's own supervisor follows the list as ever...
    while True:
        updated = await local_ws.expect("conversation.updated", conversation_id=conversation_id)
        if updated.get("last_message", {}).get("id") == second["message_id"]:
            break
    await eavesdropper.caught_up(visitor_ws, conversation_id)
    # ...and none of it went to NATS, while the frames naming someone still did.
    assert eavesdropper.audience_frames(Audience.SUPERVISORS) == []
    assert any(isinstance(item, Frame) and item.keys for item in eavesdropper.items)
    assert skipped_count() > skipped

    # A supervisor opens a console on B. B announces at once; the console's first step
    # once its socket is open (loading its list) is a round trip, as this ping is.
    supervisor = await b.add_agent("Sue", role=Role.SUPERVISOR)
    supervisor_ws = await b.ws(supervisor["token"])
    await supervisor_ws.send({"type": "ping"})
    await supervisor_ws.expect("pong")
    third = await visitor_ws.send_message("third", conversation_id=conversation_id)
    moved = await supervisor_ws.expect("conversation.updated", conversation_id=conversation_id)
    # The very first frame after: had A not heard B's announcement before the message, the
    # frame would have stayed home and never reached B (no timing needed to prove "at once").
    assert moved["last_message"]["id"] == third["message_id"]
    assert frozenset({Audience.SUPERVISORS, Audience.AGENTS}) in relay_a.peers().values()

    # The supervisor leaves: B says so with its next heartbeat, and the frames stay home.
    await supervisor_ws.close()
    await until(lambda: not relay_a.wanted(Audience.SUPERVISORS), "A learns B's left")
    eavesdropper.items.clear()
    fourth = await visitor_ws.send_message("fourth", conversation_id=conversation_id)
    while True:
        updated = await local_ws.expect("conversation.updated", conversation_id=conversation_id)
        if updated.get("last_message", {}).get("id") == fourth["message_id"]:
            break
    await eavesdropper.caught_up(visitor_ws, conversation_id)
    assert eavesdropper.audience_frames(Audience.SUPERVISORS) == []
    for ws in (agent_ws, local_ws, visitor_ws):
        await ws.close()


async def test_a_peer_gone_quiet_gets_every_frame_until_forgotten(
    quick_nodes: tuple[Kefu, Kefu],
    quick_settings: list[Settings],
    eavesdropper: Eavesdropper,
) -> None:
    a, _ = quick_nodes
    relay_a = relay_of(a)
    supervisor = await a.add_agent("Sid", role=Role.SUPERVISOR)
    supervisor_ws = await a.ws(supervisor["token"])
    visitor_ws = await a.ws((await a.visitor(name="Quinn"))["token"])
    conversation_id = (await visitor_ws.send_message("first"))["conversation_id"]
    await until(lambda: not relay_a.wanted(Audience.SUPERVISORS), "A knows B has no supervisor")

    # A third node announces once, holding nothing, and then falls silent (it hangs).
    ghost = NATS()
    await ghost.connect(eavesdropper.url)
    ttl = 1.5
    await ghost.publish(
        f"{quick_settings[0].cluster.subject}.nodes",
        envelope.encode_announce(Announce("ghost", [], ttl)),
    )
    await ghost.flush()
    await until(lambda: "ghost" in relay_a.peers(), "A hears the ghost")
    assert not relay_a.wanted(Audience.SUPERVISORS)

    # Once its announcement is older than its ttl, A cannot tell what it holds: publish.
    await until(lambda: relay_a.wanted(Audience.SUPERVISORS), "the ghost goes stale", ttl + 5)
    eavesdropper.items.clear()
    sent = await visitor_ws.send_message("while unsure", conversation_id=conversation_id)

    def list_frame_published() -> bool:
        published = eavesdropper.audience_frames(Audience.SUPERVISORS)
        return any(sent["message_id"].encode() in frame.frame for frame in published)

    # A kept no list frame home while a peer's needs were unknown.
    await until(list_frame_published, "the list frame on NATS")

    # After a second ttl of silence the ghost is forgotten, and A is back to B's needs.
    await until(lambda: "ghost" not in relay_a.peers(), "A forgets the ghost", ttl + 5)
    assert not relay_a.wanted(Audience.SUPERVISORS)
    await ghost.close()
    await supervisor_ws.close()
    await visitor_ws.close()


async def test_a_node_that_stops_is_forgotten_at_once(quick_settings: list[Settings]) -> None:
    async with serving(quick_settings[0]) as a:
        relay_a = relay_of(a)
        await until(lambda: not relay_a.wanted(Audience.SUPERVISORS), "A done listening")
        async with serving(quick_settings[1]):
            await until(lambda: len(relay_a.peers()) == 1, "A hears B")
        # B said it leaves: A forgets it at once, rather than taking it for a node gone
        # quiet (publishing everything for two of its ttls, 3 s here).
        await until(lambda: relay_a.peers() == {}, "A forgets B", timeout=1.0)
        assert not relay_a.wanted(Audience.SUPERVISORS)


async def test_after_a_nats_restart_a_node_publishes_until_it_has_listened_again(
    tmp_path: Path, nats: NatsServer
) -> None:
    # Heartbeats of 2 s: A listens for 3 s after (re)connecting, B's word lasts 6 s.
    async with (
        two_nodes_settings(
            tmp_path, nats, heartbeat_seconds=2.0, presence_ttl_seconds=4.0
        ) as settings,
        serving(settings[0]) as a,
        serving(settings[1]),
    ):
        relay_a = relay_of(a)
        await until(lambda: not relay_a.wanted(Audience.SUPERVISORS), "A knows B has none")
        nats.stop()
        await asyncio.sleep(0.3)
        nats.start()
        # Reconnected, A may have missed announcements: it publishes everything, well
        # before B's last word would have gone stale...
        await until(lambda: relay_a.wanted(Audience.SUPERVISORS), "A unsure again", 4.0)
        # ...and goes back to B's needs once it has listened for 1.5 heartbeats.
        await until(lambda: not relay_a.wanted(Audience.SUPERVISORS), "A relearns B", 10.0)
        assert list(relay_a.peers().values()) == [frozenset()]


def skipped_count() -> float:
    """The counter as a scrape reads it (both test nodes share this process's registry)."""
    value = metrics.REGISTRY.get_sample_value("kefu_cluster_items_skipped_total")
    return value or 0.0
