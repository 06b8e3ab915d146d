"""Knowing the customer, on both stores, as clients see it: every list item's ``title``;
a visitor's and a customer's conversations newest first (readable by the agent holding
one of theirs, nobody else's); a returning visitor keeping the customer link; and
``POST …/reopen`` with its frames and its refusals."""

from __future__ import annotations

from typing import Any

from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket


async def opened(kefu: Kefu, agent_ws: Socket, visitor: dict[str, Any], text: str) -> str:
    socket = await kefu.ws(visitor["token"])
    ack = await socket.send_message(text)
    await agent_ws.expect("conversation.assigned", conversation_id=ack["conversation_id"])
    await socket.close()
    return str(ack["conversation_id"])


async def test_titles_say_who_it_is(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR, capacity=10)
    boss_ws = await kefu.ws(boss["token"])
    named = await opened(kefu, boss_ws, await kefu.visitor(name="王小明"), "hi")
    anonymous_visitor = await kefu.visitor()
    anonymous = await opened(kefu, boss_ws, anonymous_visitor, "hi")
    linked = await opened(kefu, boss_ws, await kefu.visitor(), "hi")
    status, _ = await kefu.put(
        f"/api/v1/conversations/{linked}/customer", boss["token"], {"customer_key": "C1001"}
    )
    assert status == 200
    status, page = await kefu.get("/api/v1/conversations", boss["token"])
    titles = {item["id"]: item["title"] for item in page["items"]}
    assert titles == {
        named: "王小明",
        anonymous: f"Visitor {anonymous_visitor['visitor_id'][-4:]}",
        linked: "C1001",
    }
    status, one = await kefu.get(f"/api/v1/conversations/{named}", boss["token"])
    assert one["title"] == "王小明"
    await boss_ws.close()


async def test_previous_conversations_and_the_customer_link_carry_over(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann", capacity=10)
    ann_ws = await kefu.ws(ann["token"])
    bob = await kefu.add_agent("Bob", capacity=10)
    visitor = await kefu.visitor(name="Vera")
    first = await opened(kefu, ann_ws, visitor, "my parcel is late")
    status, _ = await kefu.put(
        f"/api/v1/conversations/{first}/customer", ann["token"], {"customer_key": "C2002"}
    )
    assert status == 200
    status, _ = await kefu.post(f"/api/v1/conversations/{first}/close", ann["token"])
    assert status == 200

    # She comes back: a new conversation, still the same customer.
    second = await opened(kefu, ann_ws, visitor, "it came, but broken")
    assert second != first
    status, now = await kefu.get(f"/api/v1/conversations/{second}", ann["token"])
    assert now["customer_key"] == "C2002" and now["customer_linked"] is True
    assert now["title"] == "Vera"

    for path in (
        f"/api/v1/visitors/{visitor['visitor_id']}/conversations",
        "/api/v1/customers/C2002/conversations",
    ):
        status, page = await kefu.get(path, ann["token"])
        assert status == 200, page
        assert [item["id"] for item in page["items"]] == [second, first]  # newest first
        assert page["next"] is None
        # Another agent holding none of hers learns nothing.
        status, body = await kefu.get(path, bob["token"])
        assert status == 404 and body["error"]["code"]

    # The previous conversation opens read-only for the agent holding the current one.
    status, history = await kefu.get(f"/api/v1/conversations/{first}/messages", ann["token"])
    assert status == 200
    assert "my parcel is late" in [m["body"] for m in history["items"]]
    status, body = await kefu.get(f"/api/v1/conversations/{first}/messages", bob["token"])
    assert status == 403
    status, page = await kefu.get("/api/v1/customers/C2002/conversations?limit=1", ann["token"])
    assert [item["id"] for item in page["items"]] == [second] and page["next"]
    status, page = await kefu.get(
        f"/api/v1/customers/C2002/conversations?limit=1&cursor={page['next']}", ann["token"]
    )
    assert [item["id"] for item in page["items"]] == [first]
    status, body = await kefu.get("/api/v1/customers/%20bad%0Akey/conversations", ann["token"])
    assert status == 400 and body["error"]["code"] == "bad_customer_key"
    await ann_ws.close()


async def test_a_closed_conversation_reopens_with_its_history(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann", capacity=10)
    ann_ws = await kefu.ws(ann["token"])
    visitor = await kefu.visitor(name="Vera")
    conversation = await opened(kefu, ann_ws, visitor, "first question")
    path = f"/api/v1/conversations/{conversation}"
    status, body = await kefu.post(f"{path}/reopen", ann["token"])
    assert status == 409 and body["error"]["code"] == "not_closed"
    status, _ = await kefu.post(f"{path}/close", ann["token"])
    assert status == 200

    vsock = await kefu.ws(visitor["token"])
    status, body = await kefu.post(f"{path}/reopen", ann["token"])
    assert status == 200, body
    assert body["id"] == conversation and body["status"] in ("waiting", "assigned")
    await vsock.expect("conversation.reopened", conversation_id=conversation)
    assigned = await ann_ws.expect("conversation.assigned", conversation_id=conversation)
    assert assigned["agent_id"] == ann["id"]
    status, now = await kefu.get(path, ann["token"])
    assert now["status"] == "assigned" and now["closed_at"] is None

    # The visitor writes on in the same conversation, after its history.
    ack = await vsock.send_message("one more thing")
    assert ack["conversation_id"] == conversation
    status, history = await kefu.get(f"{path}/messages", ann["token"])
    bodies = [m["body"] for m in history["items"]]
    assert bodies.index("first question") < bodies.index("Conversation reopened.")
    assert bodies[-1] == "one more thing"

    # Refusals change nothing.
    status, body = await kefu.post(f"{path}/reopen", ann["token"])
    assert status == 409 and body["error"]["code"] == "not_closed"
    status, body = await kefu.post("/api/v1/conversations/conv_nope/reopen", ann["token"])
    assert status == 404
    status, body = await kefu.post(f"{path}/reopen", visitor["token"])
    assert status in (401, 403) and body["error"]["code"]
    await vsock.close()
    await ann_ws.close()


async def test_reopen_refuses_while_the_visitor_has_an_open_chat(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann", capacity=10)
    ann_ws = await kefu.ws(ann["token"])
    bob = await kefu.add_agent("Bob", capacity=10)
    visitor = await kefu.visitor()
    old = await opened(kefu, ann_ws, visitor, "first")
    status, _ = await kefu.post(f"/api/v1/conversations/{old}/close", ann["token"])
    assert status == 200
    current = await opened(kefu, ann_ws, visitor, "second")
    status, body = await kefu.post(f"/api/v1/conversations/{old}/reopen", ann["token"])
    assert status == 409 and body["error"]["code"] == "visitor_has_open_conversation"
    status, body = await kefu.post(f"/api/v1/conversations/{old}/reopen", bob["token"])
    assert status == 403
    status, still = await kefu.get(f"/api/v1/conversations/{old}", ann["token"])
    assert still["status"] == "closed"
    status, _ = await kefu.get(f"/api/v1/conversations/{current}", ann["token"])
    assert status == 200
    await ann_ws.close()
