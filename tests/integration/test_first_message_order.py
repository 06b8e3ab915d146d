"""The visitor's first message comes first in the stored order, even when the agent
answers the moment it hears of the assignment (before that message would otherwise have
been stored). Over real sockets, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.kefu import Kefu, Socket


async def reply_on_assignment(agent_ws: Socket, body: str) -> dict[str, Any]:
    """Read raw frames until ``conversation.assigned``, then answer at once: no await on
    anything else in between, so the reply races the visitor's first message."""
    while True:
        frame: dict[str, Any] = json.loads((await agent_ws.ws.receive(timeout=10)).data)
        if frame.get("type") == "conversation.assigned":
            await agent_ws.send(
                {
                    "type": "message.send",
                    "client_msg_id": "instant-" + frame["conversation_id"],
                    "body": body,
                    "conversation_id": frame["conversation_id"],
                }
            )
            return frame
        agent_ws.backlog.append(frame)


async def test_an_instant_reply_is_stored_after_the_first_message(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Alice")
    agent_ws = await kefu.ws(agent["token"])
    for round_ in range(3):
        visitor = await kefu.visitor(name=f"Vera {round_}")
        visitor_ws = await kefu.ws(visitor["token"])
        first = f"First question {round_}"
        answer = asyncio.create_task(reply_on_assignment(agent_ws, f"Instant answer {round_}"))
        ack = await visitor_ws.send_message(first)
        assigned = await answer
        conversation_id = ack["conversation_id"]
        assert assigned["conversation_id"] == conversation_id
        reply_ack = await agent_ws.expect(
            "message.ack", client_msg_id="instant-" + conversation_id, timeout=10
        )
        # The agent still receives the first message live.
        seen = await agent_ws.expect("message.new", timeout=10)
        while seen["message"]["id"] != ack["message_id"]:
            seen = await agent_ws.expect("message.new", timeout=10)
        assert seen["message"]["body"] == first

        status, page = await kefu.get(
            f"/api/v1/conversations/{conversation_id}/messages", agent["token"]
        )
        assert status == 200, page
        items = page["items"]
        assert items[0]["id"] == ack["message_id"] and items[0]["body"] == first
        ids = [m["id"] for m in items]
        assert ids.index(reply_ack["message_id"]) > 0
        assert ids == sorted(ids)
        closed, body = await kefu.post(
            f"/api/v1/conversations/{conversation_id}/close", agent["token"], {}
        )
        assert closed == 200, body
        await visitor_ws.close()
    await agent_ws.close()
