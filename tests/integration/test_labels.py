"""Conversation labels on both stores: set by whoever may read the chat, one spelling
each, listed and filtered, pushed live to the consoles listing the chat, counted for
suggestions, refused clearly when malformed, and gone with an erased visitor."""

from __future__ import annotations

from kefu.domain.roles import Role
from tests.support.kefu import Kefu, Socket


async def chat(kefu: Kefu, agent_ws: Socket, text: str) -> str:
    visitor = await kefu.ws((await kefu.visitor(name=text))["token"])
    ack = await visitor.send_message(text)
    await agent_ws.expect("conversation.assigned", conversation_id=ack["conversation_id"])
    await visitor.close()
    return str(ack["conversation_id"])


async def test_labels_are_set_listed_filtered_and_pushed(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    refund = await chat(kefu, ann_ws, "I want my money back")
    other = await chat(kefu, ann_ws, "Where is my parcel?")
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss_ws = await kefu.ws(boss["token"])

    status, body = await kefu.put(
        f"/api/v1/conversations/{refund}/labels",
        ann["token"],
        {"labels": [" Refund", "billing", "refund"]},
    )
    assert status == 200 and body == {"labels": ["billing", "refund"]}
    pushed = await boss_ws.expect("conversation.updated", conversation_id=refund)
    assert pushed["labels"] == ["billing", "refund"]
    status, body = await kefu.put(
        f"/api/v1/conversations/{other}/labels", ann["token"], {"labels": ["billing"]}
    )
    assert status == 200

    status, page = await kefu.get("/api/v1/conversations?status=open", ann["token"])
    assert {item["id"]: item["labels"] for item in page["items"]} == {
        refund: ["billing", "refund"],
        other: ["billing"],
    }
    for asked in ("refund", "REFUND"):
        status, page = await kefu.get(f"/api/v1/conversations?label={asked}", boss["token"])
        assert status == 200 and [item["id"] for item in page["items"]] == [refund]
    status, page = await kefu.get("/api/v1/conversations?label=nothing", boss["token"])
    assert status == 200 and page["items"] == []
    status, one = await kefu.get(f"/api/v1/conversations/{refund}", ann["token"])
    assert one["labels"] == ["billing", "refund"]
    status, used = await kefu.get("/api/v1/labels", ann["token"])
    assert status == 200 and used["items"] == [
        {"label": "billing", "conversations": 2},
        {"label": "refund", "conversations": 1},
    ]

    # Cleared with an empty set.
    status, body = await kefu.put(
        f"/api/v1/conversations/{other}/labels", ann["token"], {"labels": []}
    )
    assert status == 200 and body == {"labels": []}
    status, used = await kefu.get("/api/v1/labels", ann["token"])
    assert used["items"] == [
        {"label": "billing", "conversations": 1},
        {"label": "refund", "conversations": 1},
    ]
    await ann_ws.close()
    await boss_ws.close()


async def test_bad_labels_change_nothing(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    conversation = await chat(kefu, ann_ws, "hello")
    path = f"/api/v1/conversations/{conversation}/labels"
    status, _ = await kefu.put(path, ann["token"], {"labels": ["kept"]})
    assert status == 200
    for bad, code in (
        ({"labels": ["ok", "not ok"]}, "invalid_label"),
        ({"labels": ["<script>"]}, "invalid_label"),
        ({"labels": [f"l{i}" for i in range(21)]}, "too_many_labels"),
        ({"labels": "refund"}, "validation_error"),
        ({"labels": ["x"], "colour": "red"}, "validation_error"),
        ({}, "validation_error"),
    ):
        status, body = await kefu.put(path, ann["token"], bad)
        assert status in (400, 422) and body["error"]["code"] == code, (bad, body)
    bob = await kefu.add_agent("Bob")
    status, body = await kefu.put(path, bob["token"], {"labels": ["mine"]})
    assert status == 403 and body["error"]["code"] == "not_your_conversation"
    visitor = await kefu.visitor(name="V")
    status, body = await kefu.put(path, visitor["token"], {"labels": ["mine"]})
    assert status == 403
    status, body = await kefu.put(
        "/api/v1/conversations/conv_nope/labels", ann["token"], {"labels": []}
    )
    assert status == 404
    status, one = await kefu.get(f"/api/v1/conversations/{conversation}", ann["token"])
    assert one["labels"] == ["kept"]
    await ann_ws.close()


async def test_an_erased_visitors_labels_go_with_the_chat(kefu: Kefu) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    root_ws = await kefu.ws(root["token"])
    visitor = await kefu.visitor(name="Vera", email="vera@example.com")
    socket = await kefu.ws(visitor["token"])
    ack = await socket.send_message("hi")
    await root_ws.expect("conversation.assigned", conversation_id=ack["conversation_id"])
    path = f"/api/v1/conversations/{ack['conversation_id']}/labels"
    status, _ = await kefu.put(path, root["token"], {"labels": ["gdpr"]})
    assert status == 200
    status, report = await kefu.post(
        "/api/v1/privacy/erasures", root["token"], {"visitor_id": visitor["visitor_id"]}
    )
    assert status == 200 and report["conversations"] == 1
    status, used = await kefu.get("/api/v1/labels", root["token"])
    assert used["items"] == []
    await root_ws.close()
