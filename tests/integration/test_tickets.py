"""Tickets over REST on a served node, on SQLite and PostgreSQL: the CONTRACT endpoints,
filters and paging, transitions, comments and notes, history, tickets from a chat and
from an offline message, and bad input that changes nothing.

The outbox side (exactly one event per change, SLA announcements) is checked over the
store in test_tickets_events.py, where no consumer takes the rows away.
"""

from __future__ import annotations

from typing import Any

from kefu.domain.roles import Role
from tests.support.kefu import Kefu

TICKET_FIELDS = {
    "id",
    "subject",
    "body",
    "status",
    "priority",
    "customer_key",
    "assignee_id",
    "queue",
    "conversation_id",
    "channel",
    "created_at",
    "updated_at",
    "sla",
    "sla_status",  # judged when answering: test_tickets_sla_status.py
}
SLA_FIELDS = {
    "policy",
    "first_response_due_at",
    "resolution_due_at",
    "first_responded_at",
    "solved_at",
    "warned_at",
    "breached_at",
    "paused_at",
}


async def patch(kefu: Kefu, path: str, token: str, json: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with kefu.http.patch(kefu.url(path), headers=headers, json=json) as resp:
        return resp.status, await resp.json()


async def new_ticket(kefu: Kefu, token: str, **fields: Any) -> dict[str, Any]:
    body = {"customer_key": "C-1", "subject": "Parcel lost", "body": "Order 1234"} | fields
    status, ticket = await kefu.post("/api/v1/tickets", token, body)
    assert status == 201, ticket
    return dict(ticket)


async def test_create_read_and_the_ticket_json(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        ann["token"],
        {
            "customer_key": " C-1 ",
            "subject": " Parcel lost ",
            "body": "Order 1234",
            "priority": "high",
        },
    )
    assert status == 201
    assert set(ticket) == TICKET_FIELDS and set(ticket["sla"]) == SLA_FIELDS
    assert ticket["id"].isdigit()
    assert (ticket["subject"], ticket["customer_key"]) == ("Parcel lost", "C-1")
    assert (ticket["status"], ticket["priority"], ticket["channel"]) == ("new", "high", "console")
    assert ticket["sla"]["policy"] == "default"
    assert ticket["sla"]["first_response_due_at"] > ticket["created_at"]
    assert ticket["sla"]["resolution_due_at"] > ticket["sla"]["first_response_due_at"]
    assert ticket["created_at"].endswith("Z")

    status, fetched = await kefu.get(f"/api/v1/tickets/{ticket['id']}", ann["token"])
    assert (status, stored(fetched)) == (200, stored(ticket))
    second = await new_ticket(kefu, ann["token"])
    assert int(second["id"]) > int(ticket["id"])  # sequential: "ticket #1042"
    assert second["priority"] == "normal"

    for missing in ("999999", "abc", "1" * 40, "-1"):
        status, body = await kefu.get(f"/api/v1/tickets/{missing}", ann["token"])
        assert (status, body["error"]["code"]) == (404, "ticket_not_found")


def stored(ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket without its SLA verdict, which is judged anew with every answer."""
    return {name: value for name, value in ticket.items() if name != "sla_status"}


async def test_only_agents_work_tickets(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ticket = await new_ticket(kefu, ann["token"])
    visitor = await kefu.visitor(name="Vera")
    for status, body in (
        await kefu.post(
            "/api/v1/tickets", visitor["token"], {"customer_key": "C", "subject": "s", "body": "b"}
        ),
        await kefu.get(f"/api/v1/tickets/{ticket['id']}", visitor["token"]),
        await kefu.get("/api/v1/tickets", visitor["token"]),
    ):
        assert (status, body["error"]["code"]) == (403, "agents_only")
    async with kefu.http.get(kefu.url("/api/v1/tickets")) as resp:
        assert resp.status == 401


async def test_filters_and_keyset_paging_newest_first(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    made = [
        await new_ticket(kefu, ann["token"], customer_key=f"C-{n % 2}", subject=f"t{n}")
        for n in range(7)
    ]
    ids = [t["id"] for t in made]
    await patch(kefu, f"/api/v1/tickets/{ids[0]}", ann["token"], {"status": "open"})
    await patch(kefu, f"/api/v1/tickets/{ids[1]}", ann["token"], {"assignee_id": ann["id"]})
    await patch(kefu, f"/api/v1/tickets/{ids[2]}", ann["token"], {"assignee_id": bob["id"]})
    await patch(kefu, f"/api/v1/tickets/{ids[3]}", ann["token"], {"queue": "vip"})
    await patch(kefu, f"/api/v1/tickets/{ids[4]}", ann["token"], {"priority": "urgent"})

    async def listed(query: str, token: str = ann["token"]) -> list[str]:
        status, page = await kefu.get(f"/api/v1/tickets?{query}", token)
        assert status == 200, page
        return [t["id"] for t in page["items"]]

    assert await listed("") == list(reversed(ids))
    assert await listed("customer_key=C-1") == [ids[5], ids[3], ids[1]]
    assert await listed("status=open") == [ids[0]]
    assert await listed("assignee=me") == [ids[1]]
    assert await listed("assignee=me", bob["token"]) == [ids[2]]
    assert await listed(f"assignee={bob['id']}") == [ids[2]]
    assert await listed("queue=vip") == [ids[3]]
    assert await listed("priority=urgent") == [ids[4]]
    assert await listed("priority=normal&customer_key=C-0") == [ids[6], ids[2], ids[0]]

    seen: list[str] = []
    cursor = ""
    while True:
        status, page = await kefu.get(f"/api/v1/tickets?limit=3&cursor={cursor}", ann["token"])
        seen += [t["id"] for t in page["items"]]
        if page["next"] is None:
            break
        cursor = page["next"]
    assert seen == list(reversed(ids))

    for bad in ("cursor=xyz", "status=bogus", "priority=meh", "limit=0", "limit=201"):
        status, body = await kefu.get(f"/api/v1/tickets?{bad}", ann["token"])
        assert status in (400, 422), (bad, body)
        assert body["error"]["code"] in ("invalid_cursor", "validation_error")


async def test_patch_walks_the_status_machine_and_refuses_the_rest(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ticket = await new_ticket(kefu, ann["token"])
    path = f"/api/v1/tickets/{ticket['id']}"
    for status_name in ("open", "pending", "open", "solved", "open", "solved", "closed"):
        status, body = await patch(kefu, path, ann["token"], {"status": status_name})
        assert (status, body["status"]) == (200, status_name)
        if status_name == "solved":
            assert body["sla"]["solved_at"] is not None
        if status_name == "open":
            assert body["sla"]["solved_at"] is None

    status, body = await patch(kefu, path, ann["token"], {"status": "open"})
    assert (status, body["error"]["code"]) == (409, "illegal_transition")
    assert "closed" in body["error"]["message"]
    status, body = await patch(kefu, path, ann["token"], {"priority": "low"})
    assert (status, body["error"]["code"]) == (409, "illegal_transition")

    fresh = await new_ticket(kefu, ann["token"])
    status, body = await patch(
        kefu, f"/api/v1/tickets/{fresh['id']}", ann["token"], {"status": "closed"}
    )
    assert (status, body["error"]["code"]) == (409, "illegal_transition")
    status, body = await patch(kefu, "/api/v1/tickets/424242", ann["token"], {"status": "open"})
    assert (status, body["error"]["code"]) == (404, "ticket_not_found")


async def test_bad_input_is_refused_and_changes_nothing(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    ticket = await new_ticket(kefu, ann["token"])
    path = f"/api/v1/tickets/{ticket['id']}"
    refused: list[tuple[Any, int, str]] = [
        ({}, 400, "empty_patch"),
        ({"status": "bogus"}, 422, "validation_error"),
        ({"status": None}, 422, "validation_error"),
        ({"priority": None}, 422, "validation_error"),
        ({"subject": "renamed"}, 422, "validation_error"),
        ({"queue": "Not A Queue"}, 422, "validation_error"),
        ({"assignee_id": "agt_nobody"}, 400, "unknown_agent"),
        ({"status": "open", "assignee_id": "agt_nobody"}, 400, "unknown_agent"),
        ({"status": "closed"}, 409, "illegal_transition"),
        (["status", "open"], 422, "validation_error"),
    ]
    for body, expected_status, code in refused:
        status, answer = await patch(kefu, path, ann["token"], body)
        assert (status, answer["error"]["code"]) == (expected_status, code), body
    async with kefu.http.patch(
        kefu.url(path),
        headers={"Authorization": f"Bearer {ann['token']}", "content-type": "application/json"},
        data=b'{"status": "open"',
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "invalid_json"

    bad_creates: list[Any] = [
        {"subject": "s", "body": "b"},  # no customer_key
        {"customer_key": "C", "subject": "   ", "body": "b"},
        {"customer_key": "C", "subject": "s", "body": "   "},
        {"customer_key": "C", "subject": "s" * 301, "body": "b"},
        {"customer_key": "C" * 201, "subject": "s", "body": "b"},
        {"customer_key": "C", "subject": "s", "body": "b", "priority": "asap"},
        {"customer_key": "C", "subject": "s", "body": "b", "status": "open"},
        {"customer_key": "C", "subject": "s\x00", "body": "b"},
    ]
    for body in bad_creates:
        status, answer = await kefu.post("/api/v1/tickets", ann["token"], body)
        assert status == 422, (body, answer)
    status, answer = await kefu.post(
        "/api/v1/tickets",
        ann["token"],
        {"customer_key": "C", "subject": "s", "body": "b", "assignee_id": "agt_nobody"},
    )
    assert (status, answer["error"]["code"]) == (400, "unknown_agent")
    for body in ({"body": ""}, {"body": "  "}, {"body": "x", "internal": "maybe"}):
        status, answer = await kefu.post(f"{path}/comments", ann["token"], body)
        assert status == 422, (body, answer)

    status, unchanged = await kefu.get(path, ann["token"])
    assert (status, stored(unchanged)) == (200, stored(ticket))
    status, history = await kefu.get(f"{path}/history", ann["token"])
    assert [e["action"] for e in history["items"]] == ["created"]
    status, comments = await kefu.get(f"{path}/comments", ann["token"])
    assert comments == {"items": [], "next": None}
    status, page = await kefu.get("/api/v1/tickets", ann["token"])
    assert [t["id"] for t in page["items"]] == [ticket["id"]]


async def test_comments_notes_history_and_first_response(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    ticket = await new_ticket(kefu, ann["token"])
    path = f"/api/v1/tickets/{ticket['id']}"

    status, note = await kefu.post(
        f"{path}/comments", ann["token"], {"body": "VIP, careful", "internal": True}
    )
    assert status == 201
    assert set(note) == {
        "id",
        "ticket_id",
        "author",
        "author_name",
        "body",
        "internal",
        "created_at",
    }
    assert (note["internal"], note["author"], note["author_name"]) == (
        True,
        f"agent:{ann['id']}",
        "Ann",
    )
    status, current = await kefu.get(path, ann["token"])
    assert current["sla"]["first_responded_at"] is None  # a note is no response

    status, reply = await kefu.post(f"{path}/comments", boss["token"], {"body": "On it <b>now</b>"})
    assert status == 201 and reply["internal"] is False and reply["body"] == "On it <b>now</b>"
    status, current = await kefu.get(path, ann["token"])
    assert current["sla"]["first_responded_at"] == reply["created_at"]

    status, page = await kefu.get(f"{path}/comments", ann["token"])
    assert [c["id"] for c in page["items"]] == [note["id"], reply["id"]]
    status, page = await kefu.get(f"{path}/comments?after={note['id']}&limit=1", ann["token"])
    assert [c["id"] for c in page["items"]] == [reply["id"]] and page["next"] == reply["id"]

    await patch(kefu, path, boss["token"], {"status": "open", "priority": "urgent", "queue": "vip"})
    await patch(kefu, path, boss["token"], {"assignee_id": ann["id"]})
    await patch(kefu, path, boss["token"], {"queue": None})
    status, history = await kefu.get(f"{path}/history", ann["token"])
    assert status == 200
    entries = [(e["action"], e["actor"]) for e in history["items"]]
    sue, al = f"agent:{boss['id']}", f"agent:{ann['id']}"
    assert entries == [
        ("created", al),
        ("comment", al),
        ("comment", sue),
        ("status", sue),
        ("priority", sue),
        ("queue", sue),
        ("assignee", sue),
        ("queue", sue),
    ]
    items = history["items"]
    assert items[3]["detail"] == {"before": "new", "after": "open"}
    assert items[4]["detail"]["after"] == "urgent" and "resolution_due_at" in items[4]["detail"]
    assert items[6]["detail"] == {"before": None, "after": ann["id"]}
    assert items[7]["detail"] == {"before": "vip", "after": None}
    assert items[2]["detail"]["first_response"] is True

    status, body = await kefu.post("/api/v1/tickets/777777/comments", ann["token"], {"body": "x"})
    assert (status, body["error"]["code"]) == (404, "ticket_not_found")
    status, body = await kefu.get("/api/v1/tickets/777777/history", ann["token"])
    assert (status, body["error"]["code"]) == (404, "ticket_not_found")


async def test_a_ticket_from_a_conversation(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    ann_ws = await kefu.ws(ann["token"])
    visitor = await kefu.visitor(name="Vera")
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("Where is my parcel?")
    conversation_id = ack["conversation_id"]
    await ann_ws.expect("conversation.assigned", conversation_id=conversation_id)
    await ann_ws.send_message("Let me look.", conversation_id=conversation_id)

    path = f"/api/v1/conversations/{conversation_id}/ticket"
    status, ticket = await kefu.post(path, ann["token"], {"priority": "high"})
    assert status == 201, ticket
    assert ticket["subject"] == "Where is my parcel?"
    assert "Vera: Where is my parcel?" in ticket["body"] and "Ann: Let me look." in ticket["body"]
    assert (ticket["conversation_id"], ticket["channel"]) == (conversation_id, "conversation")
    assert (ticket["assignee_id"], ticket["priority"]) == (ann["id"], "high")

    status, again = await kefu.post(path, ann["token"])
    assert (status, stored(again)) == (200, stored(ticket))
    status, body = await kefu.post(path, bob["token"])  # not his chat: no transcript for him
    assert (status, body["error"]["code"]) == (403, "not_your_conversation")
    status, body = await kefu.post("/api/v1/conversations/conv_nope/ticket", ann["token"])
    assert (status, body["error"]["code"]) == (404, "conversation_not_found")
    status, body = await kefu.post(path, visitor["token"])
    assert (status, body["error"]["code"]) == (403, "agents_only")
    await ann_ws.close()
    await visitor_ws.close()


async def test_a_ticket_from_an_offline_message(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    visitor = await kefu.visitor(name="Vera")
    status, left = await kefu.post(
        "/api/v1/offline-messages",
        visitor["token"],
        {"email": "vera@example.com", "name": "Vera", "body": "Call me back, please."},
    )
    assert status == 201

    path = f"/api/v1/offline-messages/{left['id']}/ticket"
    status, ticket = await kefu.post(path, ann["token"])
    assert status == 201, ticket
    assert (ticket["subject"], ticket["channel"]) == ("Call me back, please.", "offline")
    assert "Vera <vera@example.com>" in ticket["body"]
    status, again = await kefu.post(path, ann["token"])
    assert (status, stored(again)) == (200, stored(ticket))
    status, listed = await kefu.get("/api/v1/offline-messages", boss["token"])
    assert [m["ticket_id"] for m in listed] == [ticket["id"]]
    status, body = await kefu.post("/api/v1/offline-messages/off_nope/ticket", ann["token"])
    assert (status, body["error"]["code"]) == (404, "offline_message_not_found")


async def test_the_ticket_endpoints_are_in_openapi(kefu: Kefu) -> None:
    async with kefu.http.get(kefu.url("/openapi.json")) as resp:
        paths = (await resp.json())["paths"]
    for path in (
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets/{ticket_id}/comments",
        "/api/v1/tickets/{ticket_id}/history",
        "/api/v1/conversations/{conversation_id}/ticket",
        "/api/v1/offline-messages/{offline_id}/ticket",
    ):
        assert path in paths
    assert set(paths["/api/v1/tickets/{ticket_id}"]) == {"get", "patch"}
