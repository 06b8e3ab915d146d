"""Private notes on both stores: an agent's note reaches the agents on the conversation
(the assignee's sockets, supervisors watching) and never the visitor — not live, not in
a resume, not in the REST history, not as the conversation's last message — and a
visitor cannot write one."""

from __future__ import annotations

from typing import Any

from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket


async def opened(kefu: Kefu) -> tuple[dict[str, Any], Socket, dict[str, Any], Socket, str]:
    agent = await kefu.add_agent("Alice")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor(name="Vera")
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("Where is my parcel?")
    conversation_id: str = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    await agent_ws.expect("message.new")
    return agent, agent_ws, visitor, visitor_ws, conversation_id


async def note(socket: Socket, conversation_id: str, body: str, cid: str) -> dict[str, Any]:
    await socket.send(
        {
            "type": "message.send",
            "client_msg_id": cid,
            "conversation_id": conversation_id,
            "body": body,
            "internal": True,
        }
    )
    return await socket.expect("message.ack", client_msg_id=cid)


async def replayed(kefu: Kefu, token: str, conversation_id: str) -> list[str]:
    """Ids a fresh socket gets from ``resume`` of the whole conversation (a socket that
    got messages live replays only what came before them)."""
    socket = await kefu.ws(token)
    await socket.send(
        {"type": "resume", "conversation_id": conversation_id, "after_message_id": ""}
    )
    found = []
    while True:
        frame = await socket.ws.receive_json(timeout=5)
        if frame["type"] == "resume.done":
            await socket.close()
            return found
        if frame["type"] == "message.new":
            found.append(frame["message"]["id"])


async def test_a_note_reaches_agents_only(kefu: Kefu) -> None:
    agent, agent_ws, visitor, visitor_ws, conversation_id = await opened(kefu)
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss_ws = await kefu.ws(boss["token"])
    await boss_ws.send({"type": "watch", "conversation_id": conversation_id})
    second_tab = await kefu.ws(agent["token"])

    acked = await note(agent_ws, conversation_id, "VIP, refund without asking <b>", "n-1")
    for socket in (second_tab, boss_ws):
        seen = await socket.expect("message.new", timeout=5)
        assert seen["message"]["id"] == acked["message_id"]
        assert seen["message"]["internal"] is True
        assert seen["message"]["body"] == "VIP, refund without asking <b>"
        assert seen["message"]["sender"]["kind"] == "agent"
    # The visitor's next frame is the agent's next real reply: the note never came.
    reply = await agent_ws.send_message("We are on it.", conversation_id=conversation_id)
    got = await visitor_ws.expect("message.new", timeout=5)
    while got["message"]["sender"]["kind"] != "agent":
        got = await visitor_ws.expect("message.new", timeout=5)
    assert got["message"]["id"] == reply["message_id"] and "internal" not in got["message"]
    assert all(f.get("message", {}).get("internal") is not True for f in visitor_ws.backlog)

    # Reads: the agent side sees the note, the visitor's side does not.
    path = f"/api/v1/conversations/{conversation_id}/messages"
    status, page = await kefu.get(path, agent["token"])
    assert status == 200
    notes = [m for m in page["items"] if m.get("internal")]
    assert [m["id"] for m in notes] == [acked["message_id"]]
    status, page = await kefu.get(path, visitor["token"])
    assert status == 200 and acked["message_id"] not in {m["id"] for m in page["items"]}
    status, page = await kefu.get(f"{path}?before=", visitor["token"])
    assert status == 200 and acked["message_id"] not in {m["id"] for m in page["items"]}
    seen_by_visitor = await replayed(kefu, visitor["token"], conversation_id)
    assert reply["message_id"] in seen_by_visitor and acked["message_id"] not in seen_by_visitor
    assert acked["message_id"] in await replayed(kefu, agent["token"], conversation_id)
    # Not the conversation's last message (the visitor's side sees that id).
    status, conversation = await kefu.get(
        f"/api/v1/conversations/{conversation_id}", visitor["token"]
    )
    assert status == 200 and conversation["last_message_id"] == reply["message_id"]
    assert conversation["last_message"]["id"] == reply["message_id"]

    # A resent note is stored once; a ticket made from the chat labels the note.
    again = await note(agent_ws, conversation_id, "VIP, refund without asking <b>", "n-1")
    assert again["message_id"] == acked["message_id"]
    status, ticket = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/ticket", agent["token"]
    )
    assert status in (200, 201), ticket
    assert "Alice (internal note): VIP, refund without asking <b>" in ticket["body"]
    for socket in (agent_ws, visitor_ws, boss_ws, second_tab):
        await socket.close()


async def test_visitors_cannot_write_notes_and_notes_carry_text_only(kefu: Kefu) -> None:
    agent, agent_ws, _, visitor_ws, conversation_id = await opened(kefu)
    await visitor_ws.send(
        {"type": "message.send", "client_msg_id": "v-1", "body": "psst", "internal": True}
    )
    error = await visitor_ws.expect("error", client_msg_id="v-1")
    assert error["code"] == "agents_only"
    await agent_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "n-2",
            "conversation_id": conversation_id,
            "body": "see file",
            "internal": True,
            "attachment_ids": ["att_x"],
        }
    )
    error = await agent_ws.expect("error", client_msg_id="n-2")
    assert error["code"] == "note_attachments"
    await agent_ws.send(
        {
            "type": "message.send",
            "client_msg_id": "n-3",
            "conversation_id": conversation_id,
            "body": "x",
            "internal": "yes",
        }
    )
    error = await agent_ws.expect("error", client_msg_id="n-3")
    assert error["code"] == "invalid_frame"
    status, page = await kefu.get(
        f"/api/v1/conversations/{conversation_id}/messages", agent["token"]
    )
    assert status == 200
    assert [m["body"] for m in page["items"] if m["sender"]["kind"] != "bot"] == [
        "Where is my parcel?"
    ]
    await agent_ws.close()
    await visitor_ws.close()
