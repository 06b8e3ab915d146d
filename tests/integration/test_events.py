"""Events end to end on both stores: ingest, rules, effects applied once, VIP routing,
live notifications, chained events, machine tokens."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from kefu.auth.identity import sign_external_id
from kefu.chat import server_frames
from kefu.config import Settings, load_settings
from kefu.demo_systems import serve_app
from kefu.domain.roles import Role
from kefu.errors import ConfigError
from kefu.store.tables import (
    audit_log,
    customer_routing,
    offline_messages,
    outbox,
    processed_events,
    tickets,
    webhook_deliveries,
)
from kefu.webhooks.signing import verify
from tests.support.kefu import Kefu

SECRET = "identity-secret-" + "x" * 24
RULES: list[dict[str, Any]] = [
    {
        "name": "vip-service",
        "on": "customer.upgrade",
        "when": ['data.tier == "vip"'],
        "do": [
            {"route_customer": {"queue": "vip"}},
            {"notify": {"role": "supervisor", "message": "{customer_key} is now VIP"}},
            {"emit": {"type": "customer.vip_welcomed", "data": {"tier": "{data.tier}"}}},
        ],
    },
    {
        "name": "welcomed",
        "on": "customer.vip_welcomed",
        "do": [{"notify": {"role": "agent", "message": "welcome {customer_key} ({data.tier})"}}],
    },
]


COMPLAINT_RULE: dict[str, Any] = {
    "name": "complaint-escalation",
    "on": "customer.complaint",
    "do": [
        {
            "create_ticket": {
                "subject": "Complaint: {data.summary}",
                "body": "{data.detail}",
                "priority": "normal",
                "role": "supervisor",
            }
        },
        {"set_priority": {"priority": "high"}},
        {"webhook": "crm_sync"},
    ],
}
URGENT_RULE: dict[str, Any] = {
    "name": "urgent-tickets",
    "on": "ticket.created",
    "when": ['data.ticket.priority == "high"'],
    "do": [{"notify": {"role": "supervisor", "message": "high-priority ticket {data.ticket_id}"}}],
}
OFFLINE_RULE: dict[str, Any] = {
    "name": "offline-to-ticket",
    "on": "offline_message.created",
    "do": [{"ticket_from_offline_message": {"priority": "normal"}}],
}
HOOK_SECRET = "hook-secret-0123456789"


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""


@pytest.fixture
async def receiver() -> Any:
    found = Receiver()
    app = web.Application()

    async def hook(request: web.Request) -> web.Response:
        found.requests.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app.router.add_post("/hook", hook)
    async with serve_app(app) as url:
        found.url = url + "/hook"
        yield found


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], receiver: Receiver) -> Settings:
    return settings_factory(
        rules=[*RULES, COMPLAINT_RULE, URGENT_RULE, OFFLINE_RULE],
        webhooks={
            "crm_sync": {"url": receiver.url, "secret": HOOK_SECRET, "backoff_seconds": 0.05}
        },
        events={"batch": 50, "max_attempts": 2, "jetstream": {"backoff_seconds": [0.05]}},
        auth={"identity_secret": SECRET},
    )


async def post(kefu: Kefu, token: str, body: Any) -> tuple[int, Any]:
    return await kefu.post("/api/v1/events", token, body)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


async def rows(kefu: Kefu, query: Any) -> list[Any]:
    async with kefu.node.repos.db.connect() as conn:
        return list((await conn.execute(query)).all())


async def test_an_upgrade_routes_the_customer_notifies_and_chains_once(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    agent = await kefu.add_agent("Al")
    boss_socket = await kefu.ws(boss["token"])
    agent_socket = await kefu.ws(agent["token"])
    event = {
        "type": "customer.upgrade",
        "id": "crm-42",
        "customer_key": "C7",
        "data": {"tier": "vip"},
    }
    status, body = await post(kefu, boss["token"], event)
    assert (status, body) == (202, {"event_id": "crm-42"})
    status, _ = await post(kefu, boss["token"], event)  # the same id again
    assert status == 202

    note = await boss_socket.expect("notification", rule="vip-service")
    assert note["message"] == "C7 is now VIP" and note["event"]["id"] == "crm-42"
    assert set(note) == server_frames.SERVER_FRAME_FIELDS["notification"], note  # as documented
    chained = await agent_socket.expect("notification", rule="welcomed")
    assert chained["message"] == "welcome C7 (vip)"

    async def settled() -> bool:
        return not await rows(kefu, sa.select(outbox.c.id))

    await eventually(settled)
    routed = await rows(kefu, sa.select(customer_routing))
    assert [(r.customer_key, r.queue, r.reason) for r in routed] == [
        ("C7", "vip", "rule:vip-service")
    ]
    processed = await rows(kefu, sa.select(processed_events.c.event_id))
    assert len(processed) == 2  # crm-42 once, and the event it emitted
    # No second notification for the duplicate. Barrier: another customer's upgrade, sent
    # after it; its notification comes after any the duplicate could have caused (one
    # consumer, in order).
    status, _ = await post(kefu, boss["token"], {**event, "id": "crm-43", "customer_key": "C8"})
    assert status == 202
    await boss_socket.expect("notification", rule="vip-service", message="C8 is now VIP")
    assert not [
        f
        for f in boss_socket.backlog
        if f["type"] == "notification" and f["rule"] == "vip-service" and "C7" in f["message"]
    ]
    await boss_socket.close()
    await agent_socket.close()


async def test_conditions_decide_and_batches_are_accepted(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    batch = {
        "events": [
            {
                "type": "customer.upgrade",
                "customer_key": f"K{i}",
                "data": {"tier": "vip" if i % 2 else "gold"},
            }
            for i in range(40)
        ]
    }
    status, body = await post(kefu, boss["token"], batch)
    assert status == 202 and len(set(body["event_ids"])) == 40

    async def routed() -> list[Any]:
        found = await rows(kefu, sa.select(customer_routing.c.customer_key))
        return found if len(found) == 20 else []

    keys = {r.customer_key for r in await eventually(routed)}
    assert keys == {f"K{i}" for i in range(40) if i % 2}


async def test_vip_chats_wait_ahead_of_earlier_ones(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR, capacity=1)
    await post(
        kefu,
        boss["token"],
        {"type": "customer.upgrade", "customer_key": "VIP1", "data": {"tier": "vip"}},
    )
    await eventually(lambda: kefu.node.repos.routing.queue_of("VIP1"))
    boss_socket = await kefu.ws(boss["token"])

    first = await kefu.visitor(name="First")
    first_socket = await kefu.ws(first["token"])
    busy = await first_socket.send_message("taking the only seat")
    await first_socket.expect("conversation.assigned")
    plain = await kefu.visitor(name="Early")
    plain_socket = await kefu.ws(plain["token"])
    early = await plain_socket.send_message("first in line")
    vip = await kefu.visitor(
        name="Later VIP", external_id="VIP1", signature=sign_external_id(SECRET, "VIP1")
    )
    vip_socket = await kefu.ws(vip["token"])
    late = await vip_socket.send_message("me too")
    assert kefu.node.chat.queue_length == 2

    status, _ = await kefu.post(
        f"/api/v1/conversations/{busy['conversation_id']}/close", boss["token"]
    )
    assert status == 200
    assigned = await vip_socket.expect("conversation.assigned")
    assert assigned["conversation_id"] == late["conversation_id"]
    assert kefu.node.chat.queue_length == 1  # the earlier, standard one still waits
    assert early["conversation_id"] != late["conversation_id"]
    for socket in (boss_socket, first_socket, plain_socket, vip_socket):
        await socket.close()


async def test_only_writers_may_post_and_bad_events_change_nothing(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Al")
    admin = await kefu.add_agent("Ada", Role.ADMIN)
    status, body = await post(kefu, agent["token"], {"type": "customer.upgrade"})
    assert status == 403 and body["error"]["code"] == "insufficient_role"
    async with kefu.http.post(kefu.url("/api/v1/events"), json={"type": "x.y"}) as resp:
        assert resp.status == 401

    status, created = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "crm", "scopes": ["events:write"]}
    )
    assert status == 201 and created["token"].startswith("kefu_")
    machine = created["token"]
    status, _ = await post(
        kefu, machine, {"type": "customer.upgrade", "customer_key": "M1", "data": {"tier": "vip"}}
    )
    assert status == 202
    status, reader = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "ro", "scopes": ["tickets:read"]}
    )
    status, body = await post(kefu, reader["token"], {"type": "customer.upgrade"})
    assert status == 403 and body["error"]["code"] == "missing_scope"
    status, body = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "x", "scopes": ["root"]}
    )
    assert status == 400 and body["error"]["code"] == "unknown_scope"
    status, listed = await kefu.get("/api/v1/api-tokens", admin["token"])
    assert {t["name"] for t in listed} == {"crm", "ro"} and "token" not in listed[0]
    async with kefu.http.delete(
        kefu.url(f"/api/v1/api-tokens/{created['id']}"),
        headers={"Authorization": f"Bearer {admin['token']}"},
    ) as resp:
        assert resp.status == 204
    status, body = await post(kefu, machine, {"type": "customer.upgrade"})
    assert status == 401

    before = len(await rows(kefu, sa.select(outbox.c.id)))
    for bad in (
        {"type": "Customer Upgrade"},
        {"type": "customer.*"},
        {"type": "a.b", "id": "has spaces"},
        {"type": "a.b", "data": "not an object"},
        {"type": "a.b", "customer_key": "x" * 201},
        {"type": "a.b", "colour": "red"},
        {"events": []},
        {"events": [{"type": "a.b", "id": "same"}, {"type": "a.b", "id": "same"}]},
    ):
        status, body = await post(kefu, admin["token"], bad)
        assert status in (400, 422), (bad, status, body)
        assert "error" in body
    assert len(await rows(kefu, sa.select(outbox.c.id))) <= before  # nothing new accepted
    assert not await rows(
        kefu, sa.select(audit_log).where(audit_log.c.action == "event.dead_letter")
    )


async def test_a_complaint_makes_one_ticket_for_a_supervisor_and_one_signed_call(
    kefu: Kefu, receiver: Receiver
) -> None:
    await kefu.add_agent("Al")
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss_socket = await kefu.ws(boss["token"])
    complaint = {
        "type": "customer.complaint",
        "id": "cc-1",
        "customer_key": "C1001",
        "data": {"summary": "parcel lost", "detail": "third time this month"},
    }
    for _ in range(3):  # a department retrying: one effect
        status, _ = await post(kefu, boss["token"], complaint)
        assert status == 202

    async def one_ticket() -> list[Any]:
        found = await rows(kefu, sa.select(tickets))
        return found if found else []

    (ticket,) = await eventually(one_ticket)
    assert ticket.subject == "Complaint: parcel lost" and ticket.body == "third time this month"
    assert (ticket.priority, ticket.channel, ticket.customer_key) == ("high", "rule", "C1001")
    assert ticket.assignee_id == boss["id"] and ticket.created_by == "rule:complaint-escalation"
    # The ticket's own event (ticket.created, from the outbox) fires the next rule.
    note = await boss_socket.expect("notification", rule="urgent-tickets")
    assert note["message"] == f"high-priority ticket {ticket.id}"
    assert note["ticket_id"] is None  # that rule made no ticket itself

    # One call for the three copies. Barrier: a complaint of another id, sent after them;
    # once both deliveries are recorded, the copies have long been consumed (in order).
    status, _ = await post(kefu, boss["token"], {**complaint, "id": "cc-2"})
    assert status == 202

    async def both_delivered() -> bool:
        query = sa.select(webhook_deliveries.c.event_id).where(
            webhook_deliveries.c.status == "delivered"
        )
        return {row.event_id for row in await rows(kefu, query)} == {"cc-1", "cc-2"}

    await eventually(both_delivered)
    assert [h["Kefu-Event-Id"] for h, _ in receiver.requests] == ["cc-1", "cc-2"]
    headers, body = receiver.requests[0]
    assert headers["Kefu-Event-Id"] == "cc-1"
    verify(HOOK_SECRET, headers["Kefu-Signature"], body, now=int(time.time()))
    assert json.loads(body)["data"]["summary"] == "parcel lost"
    await boss_socket.close()


async def test_an_offline_message_becomes_one_linked_ticket(kefu: Kefu) -> None:
    visitor = await kefu.visitor(name="Late Larry")
    status, left = await kefu.post(
        "/api/v1/offline-messages",
        visitor["token"],
        {"body": "Where is my refund?", "name": "Larry", "email": "larry@example.com"},
    )
    assert status == 201

    async def linked() -> list[Any]:
        found = await rows(
            kefu, sa.select(offline_messages).where(offline_messages.c.ticket_id.is_not(None))
        )
        return found

    (message,) = await eventually(linked)
    (ticket,) = await rows(kefu, sa.select(tickets))
    assert str(ticket.id) == str(message.ticket_id) and message.id == left["id"]
    assert ticket.channel == "offline" and "Where is my refund?" in ticket.body
    assert ticket.created_by == "rule:offline-to-ticket"


async def test_the_consumer_survives_its_store_connections_being_killed(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    db = kefu.node.repos.db
    if db.dialect == "postgresql":  # the elected consumer's lock session dies with them
        async with db.connect() as conn:
            await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    status, _ = await post(
        kefu,
        boss["token"],
        {"type": "customer.upgrade", "customer_key": "K9", "data": {"tier": "vip"}},
    )
    assert status in (202, 503)
    if status == 503:  # the API's own pooled connection was among the killed: resend
        status, _ = await post(
            kefu,
            boss["token"],
            {"type": "customer.upgrade", "customer_key": "K9", "data": {"tier": "vip"}},
        )
        assert status == 202
    await eventually(lambda: kefu.node.repos.routing.queue_of("K9"), timeout=20)


async def test_a_poison_event_is_dead_lettered_and_the_rest_flows(kefu: Kefu) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    status, _ = await post(
        kefu,
        boss["token"],
        {
            "events": [
                {
                    "type": "customer.complaint",
                    "id": "poison",
                    "customer_key": "C1",
                    "data": {"summary": "x", "detail": "y" * 60_000},
                },
                {
                    "type": "customer.upgrade",
                    "id": "fine",
                    "customer_key": "C2",
                    "data": {"tier": "vip"},
                },
            ]
        },
    )
    assert status == 202

    async def dead() -> list[Any]:
        return await rows(
            kefu, sa.select(audit_log).where(audit_log.c.action == "event.dead_letter")
        )

    (letter,) = await eventually(dead)
    assert letter.target == "poison" and "body" in letter.detail["reason"]
    assert letter.detail["attempts"] == 2
    assert await kefu.node.repos.routing.queue_of("C2") == "vip"
    assert not await rows(kefu, sa.select(tickets))
    assert not await rows(kefu, sa.select(outbox.c.id))


async def test_machine_clients_use_tickets_within_their_scopes(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Ada", Role.ADMIN)
    tokens = {}
    for name, scopes in (
        ("writer", ["tickets:write", "tickets:read"]),
        ("reader", ["tickets:read"]),
        ("events", ["events:write"]),
    ):
        status, made = await kefu.post(
            "/api/v1/api-tokens", admin["token"], {"name": name, "scopes": scopes}
        )
        assert status == 201
        tokens[name] = made["token"]
    ticket = {"customer_key": "C1", "subject": "From the ERP", "body": "Invoice mismatch"}
    status, created = await kefu.post("/api/v1/tickets", tokens["writer"], ticket)
    assert status == 201 and created["channel"] == "api"
    status, read = await kefu.get(f"/api/v1/tickets/{created['id']}", tokens["reader"])
    assert status == 200 and read["subject"] == "From the ERP"
    status, body = await kefu.post("/api/v1/tickets", tokens["reader"], ticket)
    assert status == 403 and body["error"]["code"] == "missing_scope"
    status, body = await kefu.get(f"/api/v1/tickets/{created['id']}", tokens["events"])
    assert status == 403
    status, body = await kefu.get(f"/api/v1/tickets/{created['id']}", "kefu_not-a-token")
    assert status == 401


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ([{"name": "a", "on": "customer.>.x", "do": [{"notify": {"message": "m"}}]}], "rules.0.on"),
        ([{"name": "a", "on": "x", "do": [{"teleport": {}}]}], "rules.0.do.0"),
        (
            [
                {
                    "name": "a",
                    "on": "x",
                    "when": ["tier === 1"],
                    "do": [{"notify": {"message": "m"}}],
                }
            ],
            "rules.0.when.0",
        ),
        ([{"name": "a", "on": "x", "do": [{"webhook": "missing"}]}], "rules.0.do.0.webhook"),
        (
            [
                {
                    "name": "a",
                    "on": "x",
                    "do": [{"create_ticket": {"subject": "s", "priority": "p9"}}],
                }
            ],
            "rules.0.do.0.create_ticket.priority",
        ),
    ],
)
def test_bad_rules_fail_at_start_naming_the_key(rules: list[Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, rules=rules)
    assert caught.value.key == key, caught.value.message
