"""What a visitor sees of its own conversation: visitor-facing fields only.

Agents' labels, the customer key an agent linked (a key into the company's systems) and
the console's unread count are the team's business. A visitor's token reads its
conversation (REST), its messages (REST) and its live frames (WebSocket); none of them may
carry those. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from kefu.domain.roles import Role
from tests.support.kefu import Kefu

# What a visitor's GET /api/v1/conversations/{id} may show (docs/rest.md).
VISITOR_FIELDS = {
    "id",
    "visitor_id",
    "status",
    "assignee_id",
    "created_at",
    "updated_at",
    "closed_at",
    "last_message_id",
    "rating",
    "visitor",
    "visitor_read_id",
    "agent_read_id",
    "last_message",
}
AGENT_ONLY = {"labels", "customer_key", "customer_linked", "unread"}


def keys_anywhere(value: Any) -> set[str]:
    """Every key of every object nested in ``value``."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


async def labelled_linked_conversation(kefu: Kefu) -> tuple[dict[str, Any], Any, str, Any]:
    """A visitor's conversation that an agent labelled and linked to a customer; returns
    the supervisor, the visitor's token and socket, and the conversation id."""
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    visitor = await kefu.visitor(name="Vera")
    ws = await kefu.ws(visitor["token"])
    ack = await ws.send_message("where is my parcel?")
    conversation_id = ack["conversation_id"]
    status, body = await kefu.put(
        f"/api/v1/conversations/{conversation_id}/labels",
        supervisor["token"],
        {"labels": ["refund", "angry"]},
    )
    assert status == 200, body
    status, body = await kefu.put(
        f"/api/v1/conversations/{conversation_id}/customer",
        supervisor["token"],
        {"customer_key": "C1001"},
    )
    assert status == 200, body
    return supervisor, visitor["token"], conversation_id, ws


async def test_visitor_reads_its_conversation_without_labels_or_customer_key(
    kefu: Kefu,
) -> None:
    supervisor, token, conversation_id, ws = await labelled_linked_conversation(kefu)

    status, mine = await kefu.get(f"/api/v1/conversations/{conversation_id}", token)
    _, theirs = await kefu.get(f"/api/v1/conversations/{conversation_id}", supervisor["token"])

    assert status == 200, mine
    assert set(mine) <= VISITOR_FIELDS, set(mine) - VISITOR_FIELDS
    assert mine["id"] == conversation_id
    # The last words are the visitor's (the bot's welcome after them is not the preview).
    assert mine["last_message"]["body"] == "where is my parcel?"
    assert "C1001" not in str(mine) and "refund" not in str(mine)
    # The console still gets everything.
    assert theirs["labels"] == ["angry", "refund"]
    assert theirs["customer_key"] == "C1001"
    await ws.close()


async def test_visitor_message_list_and_frames_carry_no_agent_only_fields(kefu: Kefu) -> None:
    supervisor, token, conversation_id, ws = await labelled_linked_conversation(kefu)
    # A visitor cannot follow its conversation as a console does (watchers get
    # conversation.updated, labels and customer key included).
    await ws.send({"type": "watch", "conversation_id": conversation_id})
    refused = await ws.expect("error")
    assert refused["code"] == "agents_only"
    status, body = await kefu.put(
        f"/api/v1/conversations/{conversation_id}/labels", supervisor["token"], {"labels": ["vip"]}
    )
    assert status == 200, body
    await kefu.post(f"/api/v1/conversations/{conversation_id}/close", supervisor["token"])
    await ws.expect("conversation.closed", conversation_id=conversation_id)

    status, page = await kefu.get(f"/api/v1/conversations/{conversation_id}/messages", token)
    # Barrier: the pong comes after every frame the label, link and close sent this socket.
    await ws.send({"type": "ping"})
    await ws.expect("pong")

    assert status == 200, page
    assert not keys_anywhere(page) & AGENT_ONLY
    assert not keys_anywhere(ws.backlog) & AGENT_ONLY, ws.backlog
    assert {frame["type"] for frame in ws.backlog} <= {"message.new", "conversation.assigned"}
    assert "C1001" not in str(ws.backlog) + str(page)
    await ws.close()
