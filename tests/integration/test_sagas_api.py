"""Sagas over REST and rules (CONTRACT.md "Sagas") on a served node, both stores: start,
read, list with filters and cursor, definitions, idempotent starts, 422 bad input (nothing
recorded), 404 unknown_saga, roles and API-token scopes for retry/compensate, 409 in the
wrong state, saga.updated frames, and the rules action start_saga through POST
/api/v1/events (a redelivered event starts one saga)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.sagas.actions.base import ActionFailed
from kefu.sagas.kefu_actions import NodeKefuActions
from kefu.server import create_app
from kefu.store.unit_of_work import unit_of_work_factory
from tests.support.kefu import Kefu
from tests.support.passwords import CheapHasher
from tests.support.saga_systems import System, until

RETRY = {"attempts": 2, "backoff_seconds": 0.01, "budget_seconds": 30}


def step(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "action": {"kind": "rest", "step": name},
        "compensation": {"kind": "rest", "step": name},
        "retry": RETRY,
        **extra,
    }


SAGAS = {
    "refund": {
        "title": "Refund an order",
        "input": {
            "order_id": {"type": "string", "required": True, "max_length": 10},
            "amount": {"type": "number", "required": True, "minimum": 0},
        },
        "steps": [
            step("refund_order", title="Mark the order refunded"),
            step("take_back_points", pivot=True),
            {"name": "comment", "action": {"kind": "rest", "step": "comment"}},
        ],
    }
}
RULES = [
    {
        "name": "refund-on-complaint",
        "on": "customer.complaint",
        "when": ["data.refund == true"],
        "do": [
            {
                "start_saga": "refund",
                "input": {"order_id": "{data.order_id}", "amount": "{data.amount}"},
            }
        ],
    }
]


@pytest.fixture
def system() -> System:
    return System()


@pytest.fixture
async def kefu(settings_factory: Callable[..., Settings], system: System) -> AsyncIterator[Kefu]:
    settings = settings_factory(
        sagas=SAGAS, rules=RULES, saga_engine={"lease_seconds": 2, "claim_seconds": 0.2}
    )
    async with running_node(
        settings, password_hasher=CheapHasher(), saga_actions=system.build
    ) as node:
        server = TestServer(create_app(node), host="127.0.0.1")
        await server.start_server()
        async with ClientSession() as http:
            yield Kefu(node, server, http)
        await server.close()


async def ended(kefu: Kefu, token: str, saga_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        status, body = await kefu.get(f"/api/v1/sagas/{saga_id}", token)
        assert status == 200, body
        return body if body["status"] not in ("running", "compensating") else None

    found: dict[str, Any] = await until(check)
    return found


async def start(kefu: Kefu, token: str, **body: Any) -> tuple[int, Any]:
    return await kefu.post("/api/v1/sagas/refund", token, body)


ORDER = {"order_id": "A1", "amount": 25.5}


async def test_an_agent_starts_a_saga_and_reads_it_to_the_end(kefu: Kefu, system: System) -> None:
    agent = await kefu.add_agent("Ann")
    status, body = await kefu.get("/api/v1/saga-definitions", agent["token"])
    assert status == 200
    (refund,) = body["items"]
    assert refund["title"] == "Refund an order"
    assert refund["input"]["order_id"] == {"type": "string", "required": True, "max_length": 10}
    assert [(s["name"], s["compensable"], s["pivot"]) for s in refund["steps"]] == [
        ("refund_order", True, False),
        ("take_back_points", True, True),
        ("comment", False, False),
    ]
    status, body = await start(kefu, agent["token"], input=ORDER, customer_key="C1")
    assert status == 202, body
    saga = await ended(kefu, agent["token"], body["saga_id"])
    assert saga["id"] == body["saga_id"] and saga["id"].startswith("saga_")
    assert saga["status"] == "completed" and saga["customer_key"] == "C1"
    assert saga["input"] == ORDER and "finished_at" in saga and "error" not in saga
    assert [(s["name"], s["status"], s["attempts"]) for s in saga["steps"]] == [
        ("refund_order", "done", 1),
        ("take_back_points", "done", 1),
        ("comment", "done", 1),
    ]
    assert saga["steps"][0]["title"] == "Mark the order refunded"


async def test_the_list_is_newest_first_with_filters_and_a_cursor(kefu: Kefu) -> None:
    agent = await kefu.add_agent("Ann")
    ids = []
    for n in range(3):
        _, body = await start(
            kefu, agent["token"], input={**ORDER, "order_id": f"L{n}"}, customer_key="C2"
        )
        ids.append(body["saga_id"])
        await ended(kefu, agent["token"], body["saga_id"])
    _, other = await start(kefu, agent["token"], input=ORDER, customer_key="C3")
    await ended(kefu, agent["token"], other["saga_id"])
    status, page = await kefu.get("/api/v1/sagas?customer_key=C2&limit=2", agent["token"])
    assert status == 200
    assert [s["id"] for s in page["items"]] == [ids[2], ids[1]]
    status, rest = await kefu.get(
        f"/api/v1/sagas?customer_key=C2&limit=2&cursor={page['next']}", agent["token"]
    )
    assert [s["id"] for s in rest["items"]] == [ids[0]] and rest["next"] is None
    _, done = await kefu.get("/api/v1/sagas?status=completed&name=refund", agent["token"])
    assert [s["id"] for s in done["items"]][:1] == [other["saga_id"]]
    _, none = await kefu.get("/api/v1/sagas?status=failed", agent["token"])
    assert none["items"] == []
    status, bad = await kefu.get("/api/v1/sagas?cursor=nonsense", agent["token"])
    assert status == 400 and bad["error"]["code"] == "invalid_cursor"
    status, bad = await kefu.get("/api/v1/sagas?status=lost", agent["token"])
    assert status == 422


async def test_the_same_key_starts_one_saga_and_bad_input_starts_none(
    kefu: Kefu, system: System
) -> None:
    agent = await kefu.add_agent("Ann")
    _, first = await start(kefu, agent["token"], input=ORDER, idempotency_key="refund-A1")
    status, again = await start(kefu, agent["token"], input=ORDER, idempotency_key="refund-A1")
    assert status == 202 and again == first
    await ended(kefu, agent["token"], first["saga_id"])
    assert [c[0] for c in system.calls] == ["refund_order", "take_back_points", "comment"]
    for wrong, message in (
        ({"order_id": "A1"}, "input.amount: is required"),
        ({**ORDER, "amount": -1}, "input.amount: must be at least 0"),
        ({**ORDER, "amount": "ten"}, "input.amount: must be a number"),
        ({**ORDER, "note": "x"}, "input.note: is not an input"),
    ):
        status, body = await start(kefu, agent["token"], input=wrong, customer_key="C9")
        assert status == 422, body
        assert body["error"]["code"] == "validation_error"
        assert body["error"]["message"].startswith(message)
    status, body = await kefu.post("/api/v1/sagas/refund", agent["token"], {"inputs": ORDER})
    assert status == 422
    _, listed = await kefu.get("/api/v1/sagas?customer_key=C9", agent["token"])
    assert listed["items"] == []
    status, body = await kefu.post("/api/v1/sagas/nope", agent["token"], {"input": ORDER})
    assert status == 404 and body["error"]["code"] == "unknown_saga"
    status, body = await kefu.get("/api/v1/sagas/saga_nope", agent["token"])
    assert status == 404 and body["error"]["code"] == "unknown_saga"


async def test_supervisors_retry_a_failed_saga_agents_may_not(kefu: Kefu, system: System) -> None:
    agent = await kefu.add_agent("Ann")
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    watcher = await kefu.ws(boss["token"])
    system.fail[("comment", "action")] = [False]  # past the pivot: failed, not compensated
    _, body = await start(kefu, agent["token"], input=ORDER, customer_key="C4")
    saga_id = body["saga_id"]
    saga = await ended(kefu, agent["token"], saga_id)
    assert saga["status"] == "failed" and saga["error"] == "comment: comment refused"
    frame = await watcher.expect("saga.updated", timeout=10)
    assert frame["saga"]["id"] == saga_id
    while frame["saga"]["status"] != "failed":
        frame = await watcher.expect("saga.updated", timeout=10)
    assert frame["saga"]["error"] == "comment: comment refused"
    for path in ("retry", "compensate"):
        status, body = await kefu.post(f"/api/v1/sagas/{saga_id}/{path}", agent["token"])
        assert status == 403 and body["error"]["code"] == "insufficient_role"
    status, body = await kefu.post(f"/api/v1/sagas/{saga_id}/compensate", boss["token"])
    assert status == 409 and "pivot" in body["error"]["message"]
    status, body = await kefu.post(f"/api/v1/sagas/{saga_id}/retry", boss["token"])
    assert status == 200, body
    assert body["status"] == "running"
    saga = await ended(kefu, agent["token"], saga_id)
    assert saga["status"] == "completed"
    assert system.calls[-1] == ("comment", "action", 1)  # resumed at the failed step only
    status, body = await kefu.post(f"/api/v1/sagas/{saga_id}/retry", boss["token"])
    assert status == 409 and "only a failed saga" in body["error"]["message"]
    status, body = await kefu.post("/api/v1/sagas/saga_nope/retry", boss["token"])
    assert status == 404 and body["error"]["code"] == "unknown_saga"
    await watcher.close()


async def test_api_token_scopes(kefu: Kefu) -> None:
    admin = await kefu.add_agent("Root", Role.ADMIN)
    tokens = {}
    for scope in ("sagas:write", "sagas:read", "events:write"):
        status, created = await kefu.post(
            "/api/v1/api-tokens", admin["token"], {"name": scope, "scopes": [scope]}
        )
        assert status == 201, created
        tokens[scope] = created["token"]
    status, body = await start(kefu, tokens["sagas:write"], input=ORDER)
    assert status == 202
    saga = await ended(kefu, tokens["sagas:write"], body["saga_id"])
    assert saga["status"] == "completed"
    status, _ = await kefu.get(f"/api/v1/sagas/{saga['id']}", tokens["sagas:read"])
    assert status == 200
    status, body = await start(kefu, tokens["sagas:read"], input=ORDER)
    assert status == 403 and body["error"]["code"] == "missing_scope"
    status, body = await kefu.get("/api/v1/sagas", tokens["events:write"])
    assert status == 403 and body["error"]["code"] == "missing_scope"
    status, body = await kefu.post(f"/api/v1/sagas/{saga['id']}/retry", tokens["sagas:write"])
    assert status == 403
    status, body = await kefu.get("/api/v1/sagas", None)  # type: ignore[arg-type]
    assert status == 401


async def test_a_rule_starts_a_saga_once_per_event(kefu: Kefu, system: System) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    complaint = {
        "id": "evt_complaint_1",
        "type": "customer.complaint",
        "customer_key": "C7",
        "data": {"refund": True, "order_id": "R7", "amount": 12},
    }
    for _ in range(2):  # the department system sends it twice
        status, body = await kefu.post("/api/v1/events", boss["token"], complaint)
        assert status == 202, body
    quiet = {**complaint, "id": "evt_complaint_2", "data": {"refund": False, "order_id": "R8"}}
    await kefu.post("/api/v1/events", boss["token"], quiet)
    later = {
        **complaint,
        "id": "evt_complaint_3",
        "data": {"refund": True, "order_id": "R9", "amount": 1},
    }
    await kefu.post("/api/v1/events", boss["token"], later)

    async def both() -> list[dict[str, Any]] | None:
        _, page = await kefu.get("/api/v1/sagas?customer_key=C7", boss["token"])
        done = [s for s in page["items"] if s["status"] == "completed"]
        return page["items"] if len(done) >= 2 else None

    sagas = await until(both)
    # R9's saga ran after R7's events were processed; R8 asked for no refund.
    assert sorted(s["input"]["order_id"] for s in sagas) == ["R7", "R9"]
    assert [s["input"] for s in sagas if s["input"]["order_id"] == "R7"] == [
        {"order_id": "R7", "amount": 12}
    ]


async def test_the_agent_serving_the_customer_hears_of_the_saga(kefu: Kefu) -> None:
    """An agent whose open conversation is the saga's customer gets saga.updated, even
    for a saga a machine started (the 360 panel shows its timeline)."""
    agent = await kefu.add_agent("Ann")
    agent_ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor(name="Wang")
    visitor_ws = await kefu.ws(visitor["token"])
    ack = await visitor_ws.send_message("my parcel arrived broken")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", conversation_id=conversation_id)
    status, _ = await kefu.put(
        f"/api/v1/conversations/{conversation_id}/customer", agent["token"], {"customer_key": "C5"}
    )
    assert status == 200
    admin = await kefu.add_agent("Root", Role.ADMIN)
    _, created = await kefu.post(
        "/api/v1/api-tokens", admin["token"], {"name": "crm", "scopes": ["sagas:write"]}
    )
    _, body = await start(kefu, created["token"], input=ORDER, customer_key="C5")
    frame = await agent_ws.expect("saga.updated", timeout=10)
    while frame["saga"]["status"] != "completed":
        frame = await agent_ws.expect("saga.updated", timeout=10)
    assert frame["saga"]["id"] == body["saga_id"]
    assert frame["saga"]["customer_key"] == "C5"
    await agent_ws.close()
    await visitor_ws.close()


async def test_kefu_steps_apply_once_per_key(kefu: Kefu) -> None:
    """KefuActions (kind: kefu) on the node: a re-run step with the same key changes
    nothing; a ticket that does not exist is a definite no."""
    node = kefu.node
    own = NodeKefuActions(
        node.repos.db, unit_of_work_factory(node.repos.db), node.tickets, node.hub, node.clock
    )
    made = await own.ticket_create(
        subject="Refund A1", body="refund", customer_key="C6", priority="normal", queue=None,
        idempotency_key="saga_x:open:do",
    )  # fmt: skip
    again = await own.ticket_create(
        subject="Refund A1", body="refund", customer_key="C6", priority="normal", queue=None,
        idempotency_key="saga_x:open:do",
    )  # fmt: skip
    ticket_id = made["ticket_id"]
    # The re-run answers what the first run made: later steps' templates still read it.
    assert made["applied"] is True and again == {"ticket_id": ticket_id, "applied": False}
    answers = [
        await own.ticket_comment(
            ticket_id=ticket_id, body="refunded", internal=True, idempotency_key="saga_x:note:do"
        )
        for _ in range(2)
    ]
    assert answers[0]["applied"] is True and answers[1]["applied"] is False
    assert answers[1]["comment_id"] == answers[0]["comment_id"]
    agent = await kefu.add_agent("Ann")
    _, tickets = await kefu.get("/api/v1/tickets?customer_key=C6", agent["token"])
    assert [t["id"] for t in tickets["items"]] == [ticket_id]
    _, comments = await kefu.get(f"/api/v1/tickets/{ticket_id}/comments", agent["token"])
    assert [c["body"] for c in comments["items"]] == ["refunded"]
    with pytest.raises(ActionFailed) as refused:
        await own.ticket_comment(
            ticket_id="999999", body="x", internal=True, idempotency_key="saga_y:note:do"
        )
    assert refused.value.retryable is False
    first = await own.emit(type="refund.done", data={}, customer_key="C6", idempotency_key="k:e:do")
    second = await own.emit(
        type="refund.done", data={}, customer_key="C6", idempotency_key="k:e:do"
    )
    assert first == second  # the same event id: consumers drop the copy
