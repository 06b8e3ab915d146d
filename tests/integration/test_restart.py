"""A restart keeps all history, the waiting queue and the tokens; resume misses nothing."""

from __future__ import annotations

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.server import create_app
from tests.support.kefu import Kefu


async def _served(settings: Settings, http: ClientSession) -> tuple[object, Kefu]:
    context = running_node(settings)
    node = await context.__aenter__()
    server = TestServer(create_app(node), host="127.0.0.1")
    await server.start_server()
    return context, Kefu(node, server, http)


async def test_restart_keeps_history_queue_and_tokens(settings: Settings) -> None:
    async with ClientSession() as http:
        context, kefu = await _served(settings, http)
        visitor = await kefu.visitor(name="Persistent")
        visitor_ws = await kefu.ws(visitor["token"])
        acks = [await visitor_ws.send_message(f"message {n}") for n in range(5)]
        conversation_id = acks[0]["conversation_id"]
        await visitor_ws.close()
        await kefu.server.close()
        await context.__aexit__(None, None, None)  # type: ignore[attr-defined]

        context, kefu = await _served(settings, http)
        try:
            assert kefu.node.chat.queue_length == 1  # still waiting for an agent
            agent = await kefu.add_agent("Morning")
            agent_ws = await kefu.ws(agent["token"])
            await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)

            back = await kefu.ws(visitor["token"])  # the old token still works
            await back.send(
                {"type": "resume", "conversation_id": conversation_id, "after_message_id": ""}
            )
            replayed = []
            while True:
                frame = await back.ws.receive_json(timeout=5)
                if frame["type"] == "resume.done":
                    break
                if frame["type"] == "message.new":
                    replayed.append(frame["message"])
            visitor_ids = [m["id"] for m in replayed if m["sender"]["kind"] == "visitor"]
            assert visitor_ids == [a["message_id"] for a in acks]

            # Sending an already-stored client_msg_id after the restart stores nothing new.
            await back.send({"type": "message.send", "client_msg_id": "again", "body": "x"})
            first = await back.expect("message.ack", client_msg_id="again")
            await back.send({"type": "message.send", "client_msg_id": "again", "body": "x"})
            second = await back.expect("message.ack", client_msg_id="again")
            assert first["message_id"] == second["message_id"]
        finally:
            await kefu.server.close()
            await context.__aexit__(None, None, None)  # type: ignore[attr-defined]
