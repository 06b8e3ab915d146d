"""The simulators' write endpoints (the refund saga's department systems), on real sockets.

Orders API over SQLite, MariaDB and PostgreSQL; the CRM's points and the call center's
SOAP notes in memory. Each write is applied once per idempotency key (the counters and
the systems' own records say so), and the failure knobs fail, lose or hold writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from kefu.demo_systems import BEHAVIOUR
from kefu.demo_systems.callcenter import CALLCENTER_NS, SOAP_ENV_NS
from kefu.demo_systems.callcenter_notes import notes_of
from kefu.demo_systems.crm import points_balance
from kefu.demo_systems.dataset import Order
from kefu.demo_systems.orders_api import REFUNDABLE, read_order
from tests.support.department_systems import (
    DepartmentSystems,
    department_systems,
    mariadb_database,
    postgres_async_database,
)

HANG_GUARD = 30.0
NS = {"s": SOAP_ENV_NS, "c": CALLCENTER_NS}


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
async def systems(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DepartmentSystems]:
    async with orders_database(request.param, tmp_path) as url, department_systems(url) as s:
        yield s


@pytest.fixture
async def sqlite_systems(tmp_path: Path) -> AsyncIterator[DepartmentSystems]:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as s:
        yield s


def orders_database(kind: str, tmp_path: Path) -> contextlib.AbstractAsyncContextManager[str]:
    if kind == "mariadb":
        return mariadb_database()
    if kind == "postgresql":
        return postgres_async_database()
    return contextlib.nullcontext(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}")


def an_order(systems: DepartmentSystems, statuses: frozenset[str] = REFUNDABLE) -> Order:
    return next(o for o in systems.dataset.orders if o.status in statuses)


async def post(http: httpx.AsyncClient, path: str, body: Any, key: str) -> httpx.Response:
    return await http.post(path, json=body, headers={"Idempotency-Key": key})


async def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_refund_is_applied_once_per_key_and_cancelled_by_its_key(
    systems: DepartmentSystems,
) -> None:
    order = an_order(systems)
    amount = float(order.total)
    async with httpx.AsyncClient(base_url=systems.orders_url) as http:
        refund = f"/api/orders/{order.order_no}/refund"
        first = await http.post(refund, json={"amount": amount}, headers={"Idempotency-Key": "K1"})
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "refunded"
        assert first.json()["previous_status"] == order.status
        again = await http.post(refund, json={"amount": amount}, headers={"Idempotency-Key": "K1"})
        assert (again.status_code, again.json()) == (200, first.json())
        other = await http.post(refund, json={"amount": 1}, headers={"Idempotency-Key": "K2"})
        assert (other.status_code, other.json()["error"]) == (409, "already_refunded")
        shown = (await http.get(f"/api/orders/{order.order_no}")).json()
        assert shown["status"] == "refunded" and shown["refund"]["refund_key"] == "K1"

        cancel = f"/api/orders/{order.order_no}/refund/cancel"
        wrong = await http.post(
            cancel, json={"refund_key": "K2"}, headers={"Idempotency-Key": "U2"}
        )
        assert wrong.json() == {
            "order_no": order.order_no,
            "status": "refunded",
            "cancelled": False,
        }
        undone = await http.post(
            cancel, json={"refund_key": "K1"}, headers={"Idempotency-Key": "U1"}
        )
        assert undone.json() == {
            "order_no": order.order_no,
            "status": order.status,
            "cancelled": True,
        }
        twice = await http.post(
            cancel, json={"refund_key": "K1"}, headers={"Idempotency-Key": "U1"}
        )
        assert twice.json() == undone.json()
    writes = systems.orders[BEHAVIOUR].writes
    assert writes.applied == {"K1": 1, "U1": 1}
    assert writes.replays == 2
    record = await read_order(systems.orders, order.order_no)
    assert record is not None and record["status"] == order.status and record["refund"] is None


async def test_the_same_key_at_once_is_applied_once(sqlite_systems: DepartmentSystems) -> None:
    order = an_order(sqlite_systems)
    async with httpx.AsyncClient(base_url=sqlite_systems.orders_url) as http:
        replies = await asyncio.gather(
            *(
                http.post(
                    f"/api/orders/{order.order_no}/refund",
                    json={"amount": 1},
                    headers={"Idempotency-Key": "same"},
                )
                for _ in range(8)
            )
        )
    assert {r.status_code for r in replies} == {200}
    assert len({r.text for r in replies}) == 1
    assert sqlite_systems.orders[BEHAVIOUR].writes.applied == {"same": 1}


async def test_refunds_the_order_system_refuses(sqlite_systems: DepartmentSystems) -> None:
    order = an_order(sqlite_systems)
    pending = an_order(sqlite_systems, frozenset({"pending", "cancelled"}))
    async with httpx.AsyncClient(base_url=sqlite_systems.orders_url) as http:
        path = f"/api/orders/{order.order_no}/refund"
        no_key = await http.post(path, json={"amount": 1})
        assert (no_key.status_code, no_key.json()["error"]) == (400, "idempotency_key_required")
        too_much = float(order.total) + 1
        over = await http.post(path, json={"amount": too_much}, headers={"Idempotency-Key": "a"})
        assert (over.status_code, over.json()["error"]) == (422, "bad_amount")
        cents = await http.post(path, json={"amount": 0.001}, headers={"Idempotency-Key": "a2"})
        assert (cents.status_code, cents.json()["error"]) == (422, "bad_amount")
        bad = await http.post(path, json={"amount": "lots"}, headers={"Idempotency-Key": "b"})
        assert bad.status_code == 400
        unknown = await http.post(
            "/api/orders/NOPE/refund", json={"amount": 1}, headers={"Idempotency-Key": "c"}
        )
        assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")
        not_paid = await http.post(
            f"/api/orders/{pending.order_no}/refund",
            json={"amount": 1},
            headers={"Idempotency-Key": "d"},
        )
        assert (not_paid.status_code, not_paid.json()["error"]) == (409, "not_refundable")
    assert sqlite_systems.orders[BEHAVIOUR].writes.applied == {}
    record = await read_order(sqlite_systems.orders, order.order_no)
    assert record is not None and record["status"] == order.status


async def test_crm_points_are_taken_back_and_given_back_once(
    sqlite_systems: DepartmentSystems,
) -> None:
    customer = max(sqlite_systems.dataset.customers, key=lambda c: c.loyalty_points)
    start = customer.loyalty_points
    assert start > 10
    base = f"/api/customers/{customer.customer_key}/points"
    async with httpx.AsyncClient(base_url=sqlite_systems.crm_url) as http:
        taken = await http.post(
            base + "/take-back", json={"amount": 10.9}, headers={"Idempotency-Key": "T"}
        )
        assert taken.json() == {
            "customer_id": customer.customer_key,
            "points_taken": 10,
            "balance": start - 10,
        }
        again = await http.post(
            base + "/take-back", json={"amount": 10.9}, headers={"Idempotency-Key": "T"}
        )
        assert again.json() == taken.json()
        profile = (await http.get(f"/api/customers/{customer.customer_key}")).json()
        assert profile["loyalty_points"] == start - 10
        nothing = await http.post(
            base + "/give-back", json={"take_back_key": "never"}, headers={"Idempotency-Key": "G0"}
        )
        assert nothing.json()["points_returned"] == 0
        given = await http.post(
            base + "/give-back", json={"take_back_key": "T"}, headers={"Idempotency-Key": "G"}
        )
        assert given.json()["points_returned"] == 10
        second_undo = await http.post(
            base + "/give-back", json={"take_back_key": "T"}, headers={"Idempotency-Key": "G2"}
        )
        assert second_undo.json()["points_returned"] == 0
        unknown = await http.post(
            "/api/customers/NOPE/points/take-back",
            json={"points": 1},
            headers={"Idempotency-Key": "X"},
        )
        assert unknown.status_code == 404
        # Undoing that refused take-back is "nothing to undo", not a 404 that would fail
        # the saga's compensation of a step that may or may not have applied.
        undo_unknown = await http.post(
            "/api/customers/NOPE/points/give-back",
            json={"take_back_key": "X"},
            headers={"Idempotency-Key": "GX"},
        )
        assert (undo_unknown.status_code, undo_unknown.json()["points_returned"]) == (200, 0)
    assert points_balance(sqlite_systems.crm, customer.customer_key) == start
    assert sqlite_systems.crm[BEHAVIOUR].writes.applied == {"T": 1, "G": 1}


def add_note(ref: str, text: str, key: str | None) -> bytes:
    key_element = "" if key is None else f"<IdempotencyKey>{key}</IdempotencyKey>"
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
        f'<AddNote xmlns="{CALLCENTER_NS}"><CustomerRef>{ref}</CustomerRef>'
        f"<Text>{text}</Text>{key_element}</AddNote></soap:Body></soap:Envelope>"
    ).encode()


def remove_note(undo: str, key: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV_NS}"><soap:Body>'
        f'<RemoveNote xmlns="{CALLCENTER_NS}"><AddNoteKey>{undo}</AddNoteKey>'
        f"<IdempotencyKey>{key}</IdempotencyKey></RemoveNote></soap:Body></soap:Envelope>"
    ).encode()


async def test_call_center_notes_are_filed_and_removed_once(
    sqlite_systems: DepartmentSystems,
) -> None:
    text = '退款 &lt;/Text&gt;&lt;x&gt; it\'s "fine"'
    async with httpx.AsyncClient(base_url=sqlite_systems.callcenter_url) as http:
        first = await http.post("/soap/Notes", content=add_note("C1001", text, "N1"))
        assert first.status_code == 200, first.text
        note_id = etree.fromstring(first.content).findtext(".//c:NoteId", namespaces=NS)
        again = await http.post("/soap/Notes", content=add_note("C1001", text, "N1"))
        assert again.content == first.content
        by_header = await http.post(
            "/soap/Notes",
            content=add_note("C1001", "second", None),
            headers={"Idempotency-Key": "N2"},
        )
        assert by_header.status_code == 200
        no_key = await http.post("/soap/Notes", content=add_note("C1001", "x", None))
        assert no_key.status_code == 400 and b"soap:Client" in no_key.content
        present = [(n.note_id, n.text) for n in notes_of(sqlite_systems.callcenter, "C1001")]
        assert present[0] == (note_id, '退款 </Text><x> it\'s "fine"')
        removed = await http.post("/soap/Notes", content=remove_note("N1", "R1"))
        assert b"<Removed>true</Removed>" in removed.content
        removed_again = await http.post("/soap/Notes", content=remove_note("N1", "R2"))
        assert b"<Removed>false</Removed>" in removed_again.content
        listed = await http.get("/notes", params={"ref": "C1001"})
        assert b"second" in listed.content and "退款".encode() not in listed.content
    assert [n.text for n in notes_of(sqlite_systems.callcenter, "C1001")] == ["second"]
    assert sqlite_systems.callcenter[BEHAVIOUR].writes.applied == {"N1": 1, "N2": 1, "R1": 1}


async def test_failure_knobs_fail_lose_and_hold_writes(sqlite_systems: DepartmentSystems) -> None:
    order = an_order(sqlite_systems)
    behaviour = sqlite_systems.orders[BEHAVIOUR]
    path = f"/api/orders/{order.order_no}/refund"
    async with httpx.AsyncClient(base_url=sqlite_systems.orders_url, timeout=HANG_GUARD) as http:
        knobs = await http.post("/_sim/knobs", json={"fail_next_writes": 2})
        assert knobs.status_code == 200
        for _ in range(2):
            failed = await http.post(path, json={"amount": 1}, headers={"Idempotency-Key": "F"})
            assert failed.status_code == 503
        assert behaviour.writes.applied == {}
        assert (await read_order(sqlite_systems.orders, order.order_no))["status"] == order.status  # type: ignore[index]

        await http.post("/_sim/knobs", json={"lose_next_replies": 1})
        lost = await http.post(path, json={"amount": 1}, headers={"Idempotency-Key": "F"})
        assert lost.status_code == 503
        assert (await read_order(sqlite_systems.orders, order.order_no))["status"] == "refunded"  # type: ignore[index]
        retried = await http.post(path, json={"amount": 1}, headers={"Idempotency-Key": "F"})
        assert retried.status_code == 200 and retried.json()["status"] == "refunded"
        applied = (await http.get("/_sim/applied", params={"key": "F"})).json()
        assert applied == {"key": "F", "applied": 1}

        await http.post("/_sim/knobs", json={"hold_next_replies": 1})
        cancel = asyncio.create_task(
            http.post(
                f"/api/orders/{order.order_no}/refund/cancel",
                json={"refund_key": "F"},
                headers={"Idempotency-Key": "U"},
            )
        )
        await wait_for(lambda: behaviour.writes.held == 1, "the held reply")
        # Applied in the order system's records while the reply is still held.
        assert (await read_order(sqlite_systems.orders, order.order_no))["status"] == order.status  # type: ignore[index]
        assert not cancel.done()
        stats = (await http.get("/_sim/stats")).json()
        assert stats["held"] == 1 and stats["applied_keys"] == 2
        assert stats["applied_more_than_once"] == 0
        await http.post("/_sim/knobs", json={"release": True})
        reply = await asyncio.wait_for(cancel, HANG_GUARD)
        assert reply.json()["cancelled"] is True

        await http.post("/_sim/knobs", json={"write_failure_rate": 1})
        refused = await http.post(path, json={"amount": 1}, headers={"Idempotency-Key": "Z"})
        assert refused.status_code == 503
        bad = await http.post("/_sim/knobs", json={"write_failure_rate": 2})
        assert bad.status_code == 400
        unknown = await http.post("/_sim/knobs", json={"explode": 1})
        assert unknown.status_code == 400
    assert behaviour.writes.applied == {"F": 1, "U": 1}
    assert behaviour.writes.failed == 3
    assert behaviour.writes.lost_replies == 1


async def test_one_release_frees_every_held_reply(sqlite_systems: DepartmentSystems) -> None:
    customer = sqlite_systems.dataset.customers[0]
    behaviour = sqlite_systems.crm[BEHAVIOUR]
    path = f"/api/customers/{customer.customer_key}/points/take-back"
    async with httpx.AsyncClient(base_url=sqlite_systems.crm_url, timeout=HANG_GUARD) as http:
        behaviour.set_write_knobs(hold_next_replies=1)
        first = asyncio.create_task(post(http, path, {"points": 0}, "H1"))
        await wait_for(lambda: behaviour.writes.held == 1, "the first held reply")
        behaviour.set_write_knobs(hold_next_replies=1)
        second = asyncio.create_task(post(http, path, {"points": 0}, "H2"))
        await wait_for(lambda: behaviour.writes.held == 2, "the second held reply")
        behaviour.release_replies()
        replies = await asyncio.wait_for(asyncio.gather(first, second), HANG_GUARD)
    assert [r.status_code for r in replies] == [200, 200]
    assert behaviour.writes.applied == {"H1": 1, "H2": 1}
