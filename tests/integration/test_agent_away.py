"""Away mode: an agent who is away keeps their conversations and sockets but is given no
new ones; when every online agent is away the widget says nobody is available and the
visitor waits; coming back hands the queue out at once. On both stores, and across two
nodes (the store decides assignments there)."""

from __future__ import annotations

from typing import Any

from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket


async def away(kefu: Kefu, token: str, value: bool = True) -> dict[str, Any]:
    status, body = await kefu.patch("/api/v1/auth/me", token, {"away": value})
    assert status == 200, body
    assert body["away"] is value
    return body


async def available(kefu: Kefu) -> bool:
    async with kefu.http.get(kefu.url("/api/v1/availability")) as resp:
        body = await resp.json()
    return bool(body["agents_online"])


async def first_message(kefu: Kefu, text: str) -> tuple[Socket, dict[str, Any]]:
    visitor = await kefu.ws((await kefu.visitor(name=text))["token"])
    return visitor, await visitor.send_message(text)


async def test_away_agents_keep_their_chats_and_get_no_new_ones(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    ann_ws, bob_ws = await kefu.ws(ann["token"]), await kefu.ws(bob["token"])
    vera, first = await first_message(kefu, "first")
    status, _ = await kefu.get(f"/api/v1/conversations/{first['conversation_id']}", ann["token"])
    keeper = ann if status == 200 else bob  # whoever got the first chat
    keeper_ws = ann_ws if keeper is ann else bob_ws
    other = bob if keeper is ann else ann

    # The keeper goes away: their chat stays theirs, new ones go to the other agent.
    await away(kefu, keeper["token"])
    status, me = await kefu.get("/api/v1/auth/me", keeper["token"])
    assert status == 200 and me["away"] is True
    reply = await keeper_ws.send_message("still here", conversation_id=first["conversation_id"])
    assert reply["message_id"]
    for index in range(3):
        _, ack = await first_message(kefu, f"new {index}")
        status, _ = await kefu.get(
            f"/api/v1/conversations/{ack['conversation_id']}", other["token"]
        )
        assert status == 200, "a new chat went to the agent who is away"
    status, team = await kefu.get("/api/v1/team", other["token"])
    flags = {member["id"]: (member["online"], member["away"]) for member in team}
    assert flags[keeper["id"]] == (True, True) and flags[other["id"]] == (True, False)

    # Everyone away: nobody is available, a newcomer gets the offline notice and waits.
    await away(kefu, other["token"])
    assert not await available(kefu)
    waiting_ws, waiting = await first_message(kefu, "anyone there?")
    notice = kefu.node.chat.offline_message
    while True:
        frame = await waiting_ws.expect("message.new")
        if frame["message"]["sender"]["kind"] == "bot" and frame["message"]["body"] == notice:
            break
    record = await kefu.node.repos.conversations.get(waiting["conversation_id"])
    assert record is not None and record.status.value == "waiting"

    # A reconnect does not bring anyone back; coming back hands the queue out at once.
    await keeper_ws.close()
    keeper_ws = await kefu.ws(keeper["token"])
    await kefu.get("/api/v1/team", keeper["token"])
    assert not await available(kefu)
    await away(kefu, keeper["token"], False)
    got = await keeper_ws.expect(
        "conversation.assigned", conversation_id=waiting["conversation_id"]
    )
    assert got["agent_id"] == keeper["id"]
    assert await available(kefu)
    for socket in (keeper_ws, vera, waiting_ws):
        await socket.close()


async def test_admins_set_away_and_bad_input_changes_nothing(kefu: Kefu) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    ann = await kefu.add_agent("Ann")
    status, body = await kefu.patch(f"/api/v1/agents/{ann['id']}", root["token"], {"away": True})
    assert status == 200 and body["away"] is True
    status, listed = await kefu.get("/api/v1/agents", root["token"])
    assert {a["id"]: a["away"] for a in listed}[ann["id"]] is True
    for bad in ({"away": "maybe"}, {}, {"away": True, "role": "admin"}, {"away": None}):
        status, body = await kefu.patch("/api/v1/auth/me", ann["token"], bad)
        assert status in (400, 422) and "error" in body, bad
    visitor = await kefu.visitor(name="V")
    status, body = await kefu.patch("/api/v1/auth/me", visitor["token"], {"away": True})
    assert status == 403, body
    status, me = await kefu.get("/api/v1/auth/me", ann["token"])
    assert me["away"] is True and me["role"] == "agent"
    # Idempotent, and the token still works (away is not a revocation).
    await away(kefu, ann["token"])
    await away(kefu, ann["token"], False)


async def test_away_holds_across_nodes(nodes: tuple[Kefu, Kefu]) -> None:
    a, b = nodes
    ann = await b.add_agent("Ann")
    ann_ws = await b.ws(ann["token"])
    await away(b, ann["token"])  # set on B, where her socket is
    assert not await available(a)
    visitor = await a.ws((await a.visitor(name="V"))["token"])
    ack = await visitor.send_message("hello from node A")
    status, item = await a.get(f"/api/v1/conversations/{ack['conversation_id']}", ann["token"])
    assert status == 403 or item["status"] == "waiting", item
    await away(a, ann["token"], False)  # back, said on A
    got = await ann_ws.expect("conversation.assigned", conversation_id=ack["conversation_id"])
    assert got["agent_id"] == ann["id"]
    assert await available(a)
    await ann_ws.close()
    await visitor.close()
