"""The live-chat core end to end over real sockets, on SQLite and on PostgreSQL."""

from __future__ import annotations

from tests.support.kefu import Kefu


async def test_visitor_and_agent_chat_both_ways(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor(name="Vera", page_url="https://shop.example/p/1")
    visitor_ws = await kefu.ws(visitor["token"])

    ack = await visitor_ws.send_message("Hello, where is my order?")
    conversation_id = ack["conversation_id"]
    assigned = await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    assert assigned["agent_id"] == agent["id"]
    await visitor_ws.expect("conversation.assigned", conversation_id=conversation_id)
    seen = await agent_ws.expect("message.new")
    assert seen["message"]["body"] == "Hello, where is my order?"
    assert seen["message"]["sender"] == {
        "kind": "visitor",
        "id": visitor["visitor_id"],
        "name": "Vera",
    }
    assert seen["message"]["id"] == ack["message_id"]

    reply = await agent_ws.send_message("Let me check.", conversation_id=conversation_id)
    got = await visitor_ws.expect("message.new", timeout=5)
    while got["message"]["id"] != reply["message_id"]:
        got = await visitor_ws.expect("message.new")
    assert got["message"]["sender"]["kind"] == "agent"

    status, page = await kefu.get(
        f"/api/v1/conversations/{conversation_id}/messages", agent["token"]
    )
    assert status == 200
    bodies = [m["body"] for m in page["items"]]
    assert bodies[0] == "Hello, where is my order?"
    assert "Let me check." in bodies
    ids = [m["id"] for m in page["items"]]
    assert ids == sorted(ids)
    await agent_ws.close()
    await visitor_ws.close()
