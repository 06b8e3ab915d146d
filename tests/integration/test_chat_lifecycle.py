"""Conversation lifecycle over real sockets: queueing, capacity, transfer, close, signals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.server import create_app
from tests.support.kefu import Kefu


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(chat={"agent_capacity": 1})


async def _bodies(kefu: Kefu, conversation_id: str, token: str) -> list[dict[str, Any]]:
    status, page = await kefu.get(f"/api/v1/conversations/{conversation_id}/messages", token)
    assert status == 200, page
    items: list[dict[str, Any]] = page["items"]
    return items


async def test_with_nobody_online_the_visitor_is_told_and_the_conversation_waits(
    kefu: Kefu,
) -> None:
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("anyone there?")
    conversation_id = ack["conversation_id"]
    welcome = await visitor_ws.expect("message.new", timeout=5)
    while welcome["message"]["sender"]["kind"] != "bot":
        welcome = await visitor_ws.expect("message.new")
    assert kefu.node.chat.queue_length == 1

    agent = await kefu.add_agent("Late")
    agent_ws = await kefu.ws(agent["token"])
    assigned = await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    assert assigned["agent_id"] == agent["id"]
    await visitor_ws.expect("conversation.assigned", conversation_id=conversation_id)
    history = await _bodies(kefu, conversation_id, agent["token"])
    assert history[0]["body"] == "anyone there?"
    assert any(m["sender"]["kind"] == "bot" for m in history)
    assert kefu.node.chat.queue_length == 0


async def test_a_full_agent_frees_up_and_the_next_conversation_follows(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Solo")
    agent_ws = await kefu.ws(agent["token"])
    first_ws = await kefu.ws((await kefu.visitor())["token"])
    second_ws = await kefu.ws((await kefu.visitor())["token"])

    first = (await first_ws.send_message("first"))["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=first)
    second = (await second_ws.send_message("second"))["conversation_id"]
    assert kefu.node.chat.queue_length == 1

    status, _ = await kefu.post(f"/api/v1/conversations/{first}/close", agent["token"])
    assert status == 200
    await first_ws.expect("conversation.closed", conversation_id=first)
    await agent_ws.expect("conversation.assigned", conversation_id=second)
    await second_ws.expect("conversation.assigned", conversation_id=second)


async def test_transfer_moves_the_conversation_and_the_rights(kefu: Kefu) -> None:
    alice = await kefu.add_agent("Alice")
    bob = await kefu.add_agent("Bob", capacity=3)
    alice_ws = await kefu.ws(alice["token"])
    visitor_ws = await kefu.ws((await kefu.visitor())["token"])
    conversation_id = (await visitor_ws.send_message("help"))["conversation_id"]
    await alice_ws.expect("conversation.assigned", conversation_id=conversation_id)
    bob_ws = await kefu.ws(bob["token"])

    status, body = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/transfer",
        alice["token"],
        {"agent_id": bob["id"]},
    )
    assert status == 200, body
    assert body["assignee_id"] == bob["id"]
    for socket in (alice_ws, bob_ws, visitor_ws):
        await socket.expect(
            "conversation.assigned", conversation_id=conversation_id, agent_id=bob["id"]
        )
    system = await visitor_ws.expect("message.new")
    while system["message"]["sender"]["kind"] != "system":
        system = await visitor_ws.expect("message.new")
    assert "Bob" in system["message"]["body"]

    await bob_ws.send_message("Bob here", conversation_id=conversation_id)
    await alice_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "late",
            "body": "still me?",
            "conversation_id": conversation_id,
        }
    )
    error = await alice_ws.expect("error", client_msg_id="late")
    assert error["code"] == "not_your_conversation"


async def test_transfer_to_an_unknown_agent_changes_nothing(kefu: Kefu) -> None:
    alice = await kefu.add_agent("Alice")
    alice_ws = await kefu.ws(alice["token"])
    visitor_ws = await kefu.ws((await kefu.visitor())["token"])
    conversation_id = (await visitor_ws.send_message("help"))["conversation_id"]
    await alice_ws.expect("conversation.assigned", conversation_id=conversation_id)
    status, body = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/transfer", alice["token"], {"agent_id": "agt_x"}
    )
    assert status == 404
    assert body["error"]["code"] == "agent_not_found"
    record = await kefu.node.repos.conversations.get(conversation_id)
    assert record is not None and record.assignee_id == alice["id"]


async def test_closing_twice_is_a_conflict_and_a_new_message_opens_a_new_conversation(
    kefu: Kefu,
) -> None:
    agent = await kefu.add_agent("Closer")
    agent_ws = await kefu.ws(agent["token"])
    visitor_ws = await kefu.ws((await kefu.visitor())["token"])
    first = (await visitor_ws.send_message("one"))["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=first)
    assert (await kefu.post(f"/api/v1/conversations/{first}/close", agent["token"]))[0] == 200
    status, body = await kefu.post(f"/api/v1/conversations/{first}/close", agent["token"])
    assert status == 409
    assert body["error"]["code"] == "illegal_transition"

    await visitor_ws.send(
        {"type": "message.send", "client_msg_id": "x", "body": "hi", "conversation_id": first}
    )
    assert (await visitor_ws.expect("error", client_msg_id="x"))["code"] == "conversation_closed"
    second = (await visitor_ws.send_message("two"))["conversation_id"]
    assert second != first


async def test_typing_and_read_reach_the_other_side(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Reader")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor(name="Tess")
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("hello")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)

    await visitor_ws.send({"type": "typing", "conversation_id": conversation_id})
    typing = await agent_ws.expect("typing", conversation_id=conversation_id)
    assert typing["sender"] == {"kind": "visitor", "id": visitor["visitor_id"], "name": "Tess"}

    await agent_ws.send(
        {"type": "read", "conversation_id": conversation_id, "message_id": ack["message_id"]}
    )
    read = await visitor_ws.expect("read", conversation_id=conversation_id)
    assert read["message_id"] == ack["message_id"]
    assert read["sender"]["kind"] == "agent"
    record = await kefu.node.repos.conversations.get(conversation_id)
    assert record is not None and record.agent_read_id == int(ack["message_id"])


async def test_resume_replays_everything_missed_in_order(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Talker")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("before the tunnel")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    await visitor_ws.close()

    sent = [
        (await agent_ws.send_message(f"while away {n}", conversation_id=conversation_id))[
            "message_id"
        ]
        for n in range(30)
    ]
    back = await kefu.ws(visitor["token"])
    await back.send(
        {
            "type": "resume",
            "conversation_id": conversation_id,
            "after_message_id": ack["message_id"],
        }
    )
    replayed = []
    while True:
        frame = await back.ws.receive_json(timeout=5)
        if frame["type"] == "resume.done":
            break
        if frame["type"] == "message.new":
            replayed.append(frame["message"]["id"])
    assert [i for i in replayed if i in sent] == sent
    assert replayed == sorted(replayed)
    assert frame["last_message_id"] == replayed[-1]


async def test_agents_list_their_own_and_supervisors_list_all(kefu: Kefu) -> None:
    alice = await kefu.add_agent("Alice", capacity=5)
    boss = await kefu.add_agent("Boss", role=Role.SUPERVISOR)
    alice_ws = await kefu.ws(alice["token"])
    for _ in range(3):
        visitor_ws = await kefu.ws((await kefu.visitor())["token"])
        conversation_id = (await visitor_ws.send_message("hi"))["conversation_id"]
        await alice_ws.expect("conversation.assigned", conversation_id=conversation_id)

    status, mine = await kefu.get("/api/v1/conversations?status=open&assignee=me", alice["token"])
    assert status == 200 and len(mine["items"]) == 3
    status, page = await kefu.get("/api/v1/conversations?limit=2", boss["token"])
    assert status == 200 and len(page["items"]) == 2 and page["next"]
    status, rest = await kefu.get(
        f"/api/v1/conversations?limit=2&cursor={page['next']}", boss["token"]
    )
    assert status == 200
    seen = {c["id"] for c in page["items"]} | {c["id"] for c in rest["items"]}
    assert len(seen) == 3
    path = f"/api/v1/conversations?assignee={boss['id']}"
    status, _refused = await kefu.get(path, alice["token"])
    assert status == 403


async def test_keyword_auto_reply_answers_as_the_bot(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", role=Role.ADMIN)
    status, _ = await kefu.post(
        "/api/v1/auto-replies", admin["token"], {"keywords": ["refund"], "reply": "3-5 days"}
    )
    assert status == 201
    visitor_ws = await kefu.ws((await kefu.visitor())["token"])
    await visitor_ws.send_message("hello")
    await visitor_ws.send_message("When do I get my REFUND?")
    while True:
        frame = await visitor_ws.expect("message.new")
        if frame["message"]["body"] == "3-5 days":
            assert frame["message"]["sender"]["kind"] == "bot"
            break


async def test_health_readiness_and_metrics(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/healthz")) as resp:
        assert resp.status == 200 and await resp.json() == {"status": "ok"}
    async with kefu.http.get(kefu.url("/readyz")) as resp:
        assert resp.status == 200
    await kefu.ws((await kefu.visitor())["token"])
    async with kefu.http.get(kefu.url("/metrics")) as resp:
        text = await resp.text()
    for name in (
        "kefu_sockets_open",
        "kefu_event_loop_lag_seconds_bucket",
        "kefu_conversations_waiting",
        "kefu_messages_stored_total",
        "kefu_search_index_waiting_messages",
    ):
        assert name in text


async def test_resume_during_live_traffic_delivers_each_message_once_in_order(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Busy")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("start")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    # 25 + 25 frames stays inside the default per-socket burst allowance (60).
    for n in range(25):
        await agent_ws.send_message(f"old {n}", conversation_id=conversation_id)
    await visitor_ws.close()

    back = await kefu.ws(visitor["token"])

    async def live_traffic() -> list[str]:
        return [
            (await agent_ws.send_message(f"live {n}", conversation_id=conversation_id))[
                "message_id"
            ]
            for n in range(25)
        ]

    traffic = asyncio.create_task(live_traffic())
    await back.send(
        {
            "type": "resume",
            "conversation_id": conversation_id,
            "after_message_id": ack["message_id"],
        }
    )
    live_ids = await traffic
    received: list[str] = []
    while live_ids[-1] not in received:
        frame = await back.ws.receive_json(timeout=5)
        if frame["type"] == "message.new":
            received.append(frame["message"]["id"])
    assert received == sorted(set(received))  # strictly increasing: no gap-fill, no repeat
    assert set(live_ids) <= set(received)


async def test_resume_does_not_repeat_what_arrived_live_before_it(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Early")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor()
    visitor_ws = await kefu.ws(visitor["token"])
    first = await visitor_ws.send_message("first")
    conversation_id = first["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    await visitor_ws.close()
    missed = [
        (await agent_ws.send_message(f"missed {n}", conversation_id=conversation_id))["message_id"]
        for n in range(3)
    ]
    back = await kefu.ws(visitor["token"])
    live = (await agent_ws.send_message("live", conversation_id=conversation_id))["message_id"]
    got_live = await back.expect("message.new")
    assert got_live["message"]["id"] == live
    await back.send(
        {
            "type": "resume",
            "conversation_id": conversation_id,
            "after_message_id": first["message_id"],
        }
    )
    replayed = []
    while True:
        frame = await back.ws.receive_json(timeout=5)
        if frame["type"] == "resume.done":
            break
        replayed.append(frame["message"]["id"])
    assert [i for i in replayed if i in missed] == missed
    assert live not in replayed  # it already arrived live: not sent twice


async def test_a_long_replay_paces_itself_under_a_small_buffer(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(
        websocket={
            "send_buffer_bytes": 16 * 1024,
            "frames_per_second": 10_000,
            "frame_burst": 10_000,
        }
    )
    async with running_node(settings) as node, ClientSession() as http:
        server = TestServer(create_app(node), host="127.0.0.1")
        await server.start_server()
        kefu = Kefu(node, server, http)
        agent = await kefu.add_agent("Bulk", capacity=5)
        agent_ws = await kefu.ws(agent["token"])
        visitor = await kefu.visitor()
        visitor_ws = await kefu.ws(visitor["token"])
        conversation_id = (await visitor_ws.send_message("hi"))["conversation_id"]
        await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
        await visitor_ws.close()
        for n in range(60):
            await agent_ws.send_message(f"{n} " + "x" * 4000, conversation_id=conversation_id)
        back = await kefu.ws(visitor["token"])
        await back.send(
            {"type": "resume", "conversation_id": conversation_id, "after_message_id": ""}
        )
        count = 0
        while True:
            frame = await back.ws.receive_json(timeout=10)
            if frame["type"] == "resume.done":
                break
            count += 1
        assert count >= 61  # every message of 240 KB of history, under a 16 KB buffer
        await server.close()
