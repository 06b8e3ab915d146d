"""Ticket changes pushed live to agent consoles over real WebSockets, on SQLite and
PostgreSQL: who gets ``ticket.created`` / ``ticket.updated`` (assignee, previous assignee,
supervisors, the actor, everyone while unassigned), what the frames carry (checked
against their schemas), that internal notes never reach a visitor, and that rules and the
SLA watcher push too.

"Did not get it" is checked with a sentinel: frames on one socket arrive in order, so once
a later frame everyone gets has arrived, an earlier one that was meant to come would have.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.tickets import live
from tests.support.kefu import Kefu, Socket

RULE: dict[str, Any] = {
    "name": "complaint",
    "on": "customer.complaint",
    "do": [
        {
            "create_ticket": {
                "subject": "Complaint: {data.summary}",
                "body": "{data.summary}",
                "priority": "high",
                "role": "supervisor",
            }
        }
    ],
}
# Urgent tickets are due at once, so the watcher (checking often) breaches them promptly.
TICKETS = {
    "sla_check_seconds": 0.2,
    "sla_policies": {
        "default": {
            "business_hours": False,
            "first_response_minutes": {"urgent": 0, "normal": 240},
            "resolution_minutes": {"urgent": 60, "normal": 1440},
        }
    },
}


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(rules=[RULE], tickets=TICKETS)


class Team:
    def __init__(self, kefu: Kefu) -> None:
        self.kefu = kefu
        self.agents: dict[str, dict[str, Any]] = {}
        self.sockets: dict[str, Socket] = {}

    async def join(self, name: str, role: Role = Role.AGENT) -> None:
        agent = await self.kefu.add_agent(name, role)
        self.agents[name] = agent
        self.sockets[name] = await self.kefu.ws(agent["token"])

    def id(self, name: str) -> str:
        return str(self.agents[name]["id"])

    def token(self, name: str) -> str:
        return str(self.agents[name]["token"])

    async def close(self) -> None:
        for socket in self.sockets.values():
            await socket.close()


@pytest.fixture
async def team(kefu: Kefu) -> Team:
    crew = Team(kefu)
    await crew.join("Sue", Role.SUPERVISOR)
    for name in ("Ann", "Bob", "Carl"):
        await crew.join(name)
    return crew


async def frame(socket: Socket, frame_type: str, ticket_id: str) -> dict[str, Any]:
    """The next ``frame_type`` frame about ``ticket_id``, checked against its schema."""
    for index, seen in enumerate(socket.backlog):
        if seen.get("type") == frame_type and seen["ticket"]["id"] == ticket_id:
            socket.backlog.pop(index)
            live.check(json.dumps(seen))
            return seen
    while True:
        got = await socket.ws.receive_json(timeout=5)
        if got.get("type") == frame_type and got["ticket"]["id"] == ticket_id:
            live.check(json.dumps(got))
            return dict(got)
        socket.backlog.append(got)


async def sentinel(team: Team) -> str:
    """An unassigned ticket: every online agent is told of it."""
    status, ticket = await team.kefu.post(
        "/api/v1/tickets",
        team.token("Sue"),
        {"customer_key": "C-S", "subject": "sentinel", "body": "x"},
    )
    assert status == 201
    return str(ticket["id"])


async def not_told(team: Team, names: list[str], ticket_id: str) -> None:
    """None of ``names`` got anything about ``ticket_id`` before the next sentinel."""
    mark = await sentinel(team)
    for name in names:
        socket = team.sockets[name]
        await frame(socket, "ticket.created", mark)
        about = [f for f in socket.backlog if f.get("ticket", {}).get("id") == ticket_id]
        assert about == [], (name, about)
    for socket in team.sockets.values():  # the others' copies of the sentinel
        socket.backlog = [f for f in socket.backlog if f.get("ticket", {}).get("id") != mark]


async def patch(kefu: Kefu, ticket_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    url = kefu.url(f"/api/v1/tickets/{ticket_id}")
    async with kefu.http.patch(url, headers=headers, json=body) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
    return answer


async def test_new_tickets_reach_the_agents_they_concern(kefu: Kefu, team: Team) -> None:
    # Unassigned: every online agent lists it.
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        team.token("Ann"),
        {"customer_key": "C-1", "subject": "Parcel lost", "body": "Order 1234", "queue": "vip"},
    )
    assert status == 201
    tid = ticket["id"]
    for name in ("Sue", "Ann", "Bob", "Carl"):
        got = await frame(team.sockets[name], "ticket.created", tid)
        assert got["actor"] == f"agent:{team.id('Ann')}"
        item = got["ticket"]
        assert "body" not in item  # a list row's worth
        # The SLA verdict is judged anew for each answer and frame (its own test:
        # test_tickets_sla_status.py); the rest is the REST ticket without its body.
        assert {k: v for k, v in ticket.items() if k not in {"body", "sla_status"}} == {
            k: v for k, v in item.items() if k != "sla_status"
        }
        assert item["sla_status"]["state"] == ticket["sla_status"]["state"]
        assert (item["queue"], item["assignee_id"], item["status"]) == ("vip", None, "new")

    # Assigned to Bob by Carl: Bob, the supervisors and Carl himself; not Ann.
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        team.token("Carl"),
        {"customer_key": "C-2", "subject": "Refund", "body": "b", "assignee_id": team.id("Bob")},
    )
    assert status == 201
    for name in ("Bob", "Sue", "Carl"):
        got = await frame(team.sockets[name], "ticket.created", ticket["id"])
        assert got["ticket"]["assignee_id"] == team.id("Bob")
    await not_told(team, ["Ann"], ticket["id"])
    await team.close()


async def test_changes_reach_assignee_previous_assignee_and_supervisors(
    kefu: Kefu, team: Team
) -> None:
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        team.token("Sue"),
        {"customer_key": "C-1", "subject": "Broken", "body": "b", "assignee_id": team.id("Ann")},
    )
    assert status == 201
    tid = ticket["id"]
    for name in ("Ann", "Sue"):
        await frame(team.sockets[name], "ticket.created", tid)

    # Bob (not the assignee) changes status and priority: Ann's console follows.
    changed = await patch(kefu, tid, team.token("Bob"), {"status": "open", "priority": "high"})
    for name in ("Ann", "Sue", "Bob"):
        got = await frame(team.sockets[name], "ticket.updated", tid)
        assert got["actor"] == f"agent:{team.id('Bob')}"
        assert got["changes"]["status"] == {"before": "new", "after": "open"}
        assert got["changes"]["priority"] == {"before": "normal", "after": "high"}
        assert {k: v for k, v in changed.items() if k not in {"body", "sla_status"}} == {
            k: v for k, v in got["ticket"].items() if k != "sla_status"
        }
        assert got["ticket"]["sla_status"]["state"] == changed["sla_status"]["state"]
        assert "comment" not in got
    await not_told(team, ["Carl"], tid)

    # Reassigned to Bob by Sue: Ann hears that it left her, Bob that it came.
    await patch(kefu, tid, team.token("Sue"), {"assignee_id": team.id("Bob")})
    for name in ("Ann", "Bob", "Sue"):
        got = await frame(team.sockets[name], "ticket.updated", tid)
        change = {"before": team.id("Ann"), "after": team.id("Bob")}
        assert got["changes"] == {"assignee_id": change}
        assert got["ticket"]["assignee_id"] == team.id("Bob")
    await not_told(team, ["Carl"], tid)

    # Unassigned: back in everyone's queue, so everyone is told.
    await patch(kefu, tid, team.token("Bob"), {"assignee_id": None, "queue": "billing"})
    for name in ("Ann", "Bob", "Carl", "Sue"):
        got = await frame(team.sockets[name], "ticket.updated", tid)
        assert got["ticket"]["assignee_id"] is None and got["ticket"]["queue"] == "billing"
    # Taken from the queue by Carl: everyone's list drops it from the queue.
    await patch(kefu, tid, team.token("Carl"), {"assignee_id": team.id("Carl")})
    for name in ("Ann", "Bob", "Carl", "Sue"):
        got = await frame(team.sockets[name], "ticket.updated", tid)
        assert got["ticket"]["assignee_id"] == team.id("Carl")

    # Pending pauses the resolution clock; the frame says so.
    await patch(kefu, tid, team.token("Sue"), {"status": "pending"})
    got = await frame(team.sockets["Carl"], "ticket.updated", tid)
    assert got["changes"]["status"] == {"before": "open", "after": "pending"}
    assert got["ticket"]["sla"]["paused_at"] == got["changes"]["paused_at"]["after"]
    assert got["changes"]["paused_at"]["before"] is None
    await team.close()


async def test_comments_and_internal_notes_reach_agents_only(kefu: Kefu, team: Team) -> None:
    visitor = await kefu.visitor(name="Vera")
    vera = await kefu.ws(visitor["token"])
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        team.token("Sue"),
        {"customer_key": "C-1", "subject": "Help", "body": "b", "assignee_id": team.id("Ann")},
    )
    tid = ticket["id"]
    await frame(team.sockets["Ann"], "ticket.created", tid)
    path = f"/api/v1/tickets/{tid}/comments"
    note = "Customer is on the fraud list: do not refund."
    status, comment = await kefu.post(path, team.token("Sue"), {"body": note, "internal": True})
    assert status == 201
    got = await frame(team.sockets["Ann"], "ticket.updated", tid)
    assert got["comment"] == comment
    assert got["comment"]["internal"] is True and got["comment"]["body"] == note
    assert got["changes"] == {}  # a note answers nobody: no first response
    assert (await frame(team.sockets["Sue"], "ticket.updated", tid))["comment"] == comment

    # Ann's first public reply is the first response: the frame carries the stamp.
    status, reply = await kefu.post(path, team.token("Ann"), {"body": "We are on it."})
    assert status == 201
    got = await frame(team.sockets["Sue"], "ticket.updated", tid)
    assert got["comment"]["id"] == reply["id"] and got["comment"]["internal"] is False
    stamp = got["ticket"]["sla"]["first_responded_at"]
    assert stamp is not None and got["changes"]["first_responded_at"] == {
        "before": None,
        "after": stamp,
    }
    await not_told(team, ["Bob", "Carl"], tid)

    # The visitor's socket saw none of it: its next frame is its own message's ack.
    ack = await vera.send_message("hello?")
    assert ack["type"] == "message.ack"
    leaked = [f for f in vera.backlog if str(f.get("type", "")).startswith("ticket.")]
    assert leaked == [] and note not in json.dumps(vera.backlog)
    await vera.close()
    await team.close()


async def test_a_rules_ticket_and_an_sla_breach_are_pushed_too(kefu: Kefu, team: Team) -> None:
    status, _ = await kefu.post(
        "/api/v1/events",
        team.token("Sue"),
        {"type": "customer.complaint", "customer_key": "C-9", "data": {"summary": "late"}},
    )
    assert status == 202
    sue = team.sockets["Sue"]
    while True:  # the rule's ticket, made in the rules consumer's transaction
        got = await sue.expect("ticket.created", timeout=10)
        if got["ticket"]["subject"] == "Complaint: late":
            break
    live.check(json.dumps(got))
    assert got["actor"] == "rule:complaint"
    assert got["ticket"]["assignee_id"] == team.id("Sue")
    assert got["ticket"]["priority"] == "high"

    # Urgent: the first response is due at once; the watcher breaches it and every
    # console showing the ticket hears of it (unassigned: everyone).
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        team.token("Ann"),
        {"customer_key": "C-1", "subject": "Down", "body": "b", "priority": "urgent"},
    )
    assert status == 201
    tid = ticket["id"]
    ann = team.sockets["Ann"]
    breached = warned = None
    while breached is None or warned is None:
        got = await frame(ann, "ticket.updated", tid)
        assert got["actor"] is None  # kefu itself
        breached = breached or got["changes"].get("breached_at")
        warned = warned or got["changes"].get("warned_at")
    assert got["ticket"]["sla"]["breached_at"] is not None
    await frame(team.sockets["Carl"], "ticket.updated", tid)
    await team.close()
