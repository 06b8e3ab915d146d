"""The demo's refund saga (``kefu demo``'s ``sagas:``) on a real node against the real
simulators: it refunds, takes points back, files a note and writes the ticket; a step the
call center refuses undoes the others, each system's own records back to the start; a
system that fails twice is retried and applies once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from kefu.config import Settings
from kefu.demo_systems import BEHAVIOUR
from kefu.demo_systems.callcenter_notes import notes_of
from kefu.demo_systems.crm import points_balance
from kefu.demo_systems.dataset import Order
from kefu.demo_systems.orders_api import REFUNDABLE, read_order
from kefu.demo_systems.refund_saga import demo_sagas
from kefu.demo_systems.sources import demo_sources
from kefu.domain.roles import Role
from tests.support.department_systems import DepartmentSystems, department_systems
from tests.support.kefu import Kefu, serving

HANG_GUARD = 60.0
TERMINAL = {"completed", "compensated", "failed"}


@pytest.fixture
async def demo(
    tmp_path: Path, settings_factory: Callable[..., Settings]
) -> AsyncIterator[tuple[Kefu, DepartmentSystems]]:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as systems:
        sources = demo_sources(systems.crm_url, systems.callcenter_url, systems.orders_db)
        sagas = demo_sagas(systems.orders_url)
        # Quick retries: the demo's 0.2 s backoff, but a test needs no 60 s budget.
        for step in sagas["refund"]["steps"]:
            step["retry"] = {"attempts": 4, "backoff_seconds": 0.05, "budget_seconds": 30}
        sagas["noted"] = NOTED
        rules = [
            {
                "name": "refund-noted",
                "on": "refund.noted",
                "do": [{"create_ticket": {"subject": "Noted {data.order_id}", "body": "x"}}],
            }
        ]
        settings = settings_factory(sources=sources, sagas=sagas, rules=rules)
        async with serving(settings) as kefu:
            yield kefu, systems


# kefu's own steps through the node's wiring: an event a rule acts on, a notification.
NOTED = {
    "input": {"order_id": {"type": "string", "required": True}},
    "steps": [
        {
            "name": "emit",
            "action": {
                "kind": "kefu",
                "op": "emit",
                "type": "refund.noted",
                "data": {"order_id": "{input.order_id}", "saga": "{saga.id}"},
            },
        },
        {
            "name": "tell",
            "action": {
                "kind": "kefu",
                "op": "notify",
                "role": "supervisor",
                "message": "Refund of {input.order_id} noted",
            },
        },
    ],
}


def order_of(systems: DepartmentSystems, customer: str = "C1001") -> Order:
    return next(o for o in systems.dataset.orders_of(customer) if o.status in REFUNDABLE)


async def finished(kefu: Kefu, token: str, saga_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + HANG_GUARD
    while True:
        status, saga = await kefu.get(f"/api/v1/sagas/{saga_id}", token)
        assert status == 200, saga
        if saga["status"] in TERMINAL:
            done: dict[str, Any] = saga
            return done
        assert time.monotonic() < deadline, saga
        await asyncio.sleep(0.05)


async def start(kefu: Kefu, token: str, order: Order, **inputs: Any) -> dict[str, Any]:
    body = {
        "input": {"order_id": order.order_no, "amount": float(order.total)} | inputs,
        "customer_key": order.customer_key,
    }
    status, answer = await kefu.post("/api/v1/sagas/refund", token, body)
    assert status == 202, answer
    return await finished(kefu, token, answer["saga_id"])


async def test_the_refund_saga_completes_on_every_system(
    demo: tuple[Kefu, DepartmentSystems],
) -> None:
    kefu, systems = demo
    agent = await kefu.add_agent("Alex")
    order = order_of(systems)
    points = points_balance(systems.crm, order.customer_key)
    assert points is not None
    saga = await start(kefu, agent["token"], order, reason="arrived broken 破损")
    assert saga["status"] == "completed", saga
    assert [s["status"] for s in saga["steps"]] == ["done"] * 4

    record = await read_order(systems.orders, order.order_no)
    assert record is not None and record["status"] == "refunded"
    taken = min(int(order.total), points)
    assert points_balance(systems.crm, order.customer_key) == points - taken
    [note] = notes_of(systems.callcenter, order.customer_key)
    assert order.order_no in note.text and "破损" in note.text
    status, tickets = await kefu.get(
        f"/api/v1/tickets?customer_key={order.customer_key}", agent["token"]
    )
    assert status == 200
    [ticket] = [t for t in tickets["items"] if order.order_no in t["subject"]]
    assert note.note_id in ticket["body"] and f"{taken} loyalty points" in ticket["body"]
    for app in (systems.orders, systems.crm, systems.callcenter):
        assert list(app[BEHAVIOUR].writes.applied.values()) == [1]


async def test_a_refused_note_undoes_the_refund_and_the_points(
    demo: tuple[Kefu, DepartmentSystems],
) -> None:
    kefu, systems = demo
    agent = await kefu.add_agent("Alex")
    order = order_of(systems)
    points = points_balance(systems.crm, order.customer_key)
    # A control character XML cannot carry: the note step fails for good (not retried).
    saga = await start(kefu, agent["token"], order, reason="bell \x07")
    assert saga["status"] == "compensated", saga
    steps = {s["name"]: s["status"] for s in saga["steps"]}
    assert steps == {
        "refund_order": "compensated",
        "take_back_points": "compensated",
        "log_call_note": "failed",
        "comment_ticket": "skipped",
    }
    record = await read_order(systems.orders, order.order_no)
    assert record is not None and record["status"] == order.status and record["refund"] is None
    assert points_balance(systems.crm, order.customer_key) == points
    assert notes_of(systems.callcenter, order.customer_key) == []


async def test_a_system_failing_twice_is_retried_and_applied_once(
    demo: tuple[Kefu, DepartmentSystems],
) -> None:
    kefu, systems = demo
    agent = await kefu.add_agent("Alex")
    order = order_of(systems)
    systems.crm[BEHAVIOUR].set_write_knobs(fail_next_writes=1, lose_next_replies=1)
    saga = await start(kefu, agent["token"], order)
    assert saga["status"] == "completed", saga
    take_back = next(s for s in saga["steps"] if s["name"] == "take_back_points")
    assert take_back["attempts"] == 3
    writes = systems.crm[BEHAVIOUR].writes
    assert list(writes.applied.values()) == [1] and writes.replays == 1


async def test_the_refund_is_noted_on_the_agents_ticket_once(
    demo: tuple[Kefu, DepartmentSystems],
) -> None:
    kefu, systems = demo
    agent = await kefu.add_agent("Alex")
    order = order_of(systems)
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        agent["token"],
        {"customer_key": order.customer_key, "subject": "Broken parcel", "body": "Please refund."},
    )
    assert status == 201, ticket
    saga = await start(kefu, agent["token"], order, ticket_id=str(ticket["id"]))
    assert saga["status"] == "completed", saga
    status, comments = await kefu.get(f"/api/v1/tickets/{ticket['id']}/comments", agent["token"])
    assert status == 200
    [comment] = [c for c in comments["items"] if order.order_no in c["body"]]
    assert comment["internal"] is True
    status, tickets = await kefu.get(
        f"/api/v1/tickets?customer_key={order.customer_key}", agent["token"]
    )
    assert [t["id"] for t in tickets["items"]] == [ticket["id"]]  # no second ticket opened


async def test_kefu_steps_emit_an_event_and_notify_supervisors(
    demo: tuple[Kefu, DepartmentSystems],
) -> None:
    kefu, _systems = demo
    supervisor = await kefu.add_agent("Sam", Role.SUPERVISOR)
    socket = await kefu.ws(supervisor["token"])
    status, answer = await kefu.post(
        "/api/v1/sagas/noted",
        supervisor["token"],
        {"input": {"order_id": "SO-1"}, "customer_key": "C1001"},
    )
    assert status == 202, answer
    saga = await finished(kefu, supervisor["token"], answer["saga_id"])
    assert saga["status"] == "completed", saga
    note = await socket.expect("notification", timeout=HANG_GUARD)
    assert note["message"] == "Refund of SO-1 noted"
    deadline = time.monotonic() + HANG_GUARD
    while True:  # the rule on refund.noted runs after the event is stored
        status, tickets = await kefu.get("/api/v1/tickets?customer_key=C1001", supervisor["token"])
        if any(t["subject"] == "Noted SO-1" for t in tickets["items"]):
            break
        assert time.monotonic() < deadline, tickets
        await asyncio.sleep(0.05)


async def test_a_second_refund_of_one_order_is_refused_and_changes_nothing(
    demo: tuple[Kefu, DepartmentSystems],
) -> None:
    kefu, systems = demo
    agent = await kefu.add_agent("Alex")
    order = order_of(systems)
    assert (await start(kefu, agent["token"], order))["status"] == "completed"
    points = points_balance(systems.crm, order.customer_key)
    again = await start(kefu, agent["token"], order)
    assert again["status"] == "compensated", again
    first = again["steps"][0]
    assert (first["status"], first["error"]) == ("failed", "orders: HTTP 409 already_refunded")
    assert first["attempts"] == 1  # a definite no is not retried
    assert points_balance(systems.crm, order.customer_key) == points
    assert len(notes_of(systems.callcenter, order.customer_key)) == 1
