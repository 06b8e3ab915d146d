"""Rules that require fields, on both stores, as an event publisher and an admin see
them: an event lacking a field a ``refuse`` rule requires gets 422 and nothing is stored;
one lacking a field a ``dead_letter`` rule requires is accepted and lands in the dead
letters with the reason, and acted on once replayed complete; templates never show empty
labels ("Complaint from ():")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import dead_letters, outbox, tickets
from tests.support.kefu import Kefu, serving

REFUSING = {
    "name": "complaint",
    "on": "customer.complaint",
    "require": ["customer_key", "data.summary"],
    "do": [
        {"create_ticket": {"subject": "Complaint: {data.summary}", "priority": "high"}},
        {
            "notify": {
                "role": "supervisor",
                "message": "Complaint from {customer.name} ({customer_key}): {data.summary}",
            }
        },
    ],
}
DEAD_LETTERING = {
    "name": "refund-request",
    "on": "order.refund_requested",
    "require": ["data.order_id"],
    "on_missing": "dead_letter",
    "do": [{"create_ticket": {"subject": "Refund {data.order_id|?} for {customer_key}"}}],
}


async def count(kefu: Kefu, table: sa.Table) -> int:
    async with kefu.node.repos.db.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar())


async def subjects(kefu: Kefu) -> list[str]:
    async with kefu.node.repos.db.connect() as conn:
        return list((await conn.execute(sa.select(tickets.c.subject))).scalars())


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_required_fields_refuse_or_dead_letter(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(rules=[REFUSING, DEAD_LETTERING])
    async with serving(settings) as kefu:
        root = await kefu.add_agent("Root", Role.ADMIN)
        boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
        boss_ws = await kefu.ws(boss["token"])
        token = root["token"]

        # Refused: the issue's own example, a blank summary, and a batch with one bad.
        for bad in (
            {"type": "customer.complaint", "data": {}},
            {"type": "customer.complaint", "customer_key": "C1", "data": {"summary": "  "}},
            {
                "events": [
                    {"type": "customer.complaint", "customer_key": "C1", "data": {"summary": "ok"}},
                    {"type": "customer.complaint", "customer_key": "C2", "data": {}},
                ]
            },
        ):
            status, body = await kefu.post("/api/v1/events", token, bad)
            assert status == 422, body
            assert body["error"]["code"] == "missing_fields"
            assert "data.summary" in body["error"]["message"]
        assert await count(kefu, outbox) == 0  # nothing recorded, not even the good one

        # Complete: acted on; the 360 knows no name here and the notice says so plainly.
        event = {"type": "customer.complaint", "customer_key": "C7", "data": {"summary": "late"}}
        status, _ = await kefu.post("/api/v1/events", token, event)
        assert status == 202
        note = await boss_ws.expect("notification", timeout=20)
        assert "()" not in note["message"] and "Complaint from" in note["message"]
        assert await eventually(lambda: _has(kefu, "Complaint: late"))

        # Dead-lettered: accepted, then given up on with the reason, nothing done.
        event = {"type": "order.refund_requested", "id": "r-1", "customer_key": "C8", "data": {}}
        status, _ = await kefu.post("/api/v1/events", token, event)
        assert status == 202

        async def letter() -> Any:
            _, page = await kefu.get("/api/v1/events/dead-letters", token)
            return [item for item in page["items"] if item["event_id"] == "r-1"]

        (found,) = await eventually(letter)
        assert "data.order_id" in found["reason"] and "refund-request" in found["reason"]
        assert all(not s.startswith("Refund") for s in await subjects(kefu))
        assert await count(kefu, dead_letters) == 1
        await boss_ws.close()


async def _has(kefu: Kefu, subject: str) -> bool:
    return subject in await subjects(kefu)
