"""Dead letters for admins, on both event logs (store outbox and JetStream) and both
stores: an event whose effect cannot be stored is dead-lettered whole, with why; an admin
reads it, fixes the cause, replays it (applied once), or discards it.

The fault is real: a trigger in the store refuses one customer's tickets ("the CRM sync
is down"), and is dropped to "fix" it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import nats as nats_client
import pytest
import sqlalchemy as sa

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import audit_log, tickets
from tests.support.dead_letters import ACCEPT, BROKEN, REFUSE, RULE, run_sql
from tests.support.kefu import Kefu, serving
from tests.support.nats import NatsServer

LETTERS = "/api/v1/events/dead-letters"


@pytest.fixture(params=["memory", "jetstream"])
async def kefu_on(
    request: pytest.FixtureRequest, settings_factory: Callable[..., Settings], tmp_path: Any
) -> AsyncIterator[Kefu]:
    """A served node on the store log or on JetStream (a nats-server of the test's own)."""
    events = {"batch": 20, "max_attempts": 2, "jetstream": {"backoff_seconds": [0.05]}}
    if request.param == "memory":
        async with serving(settings_factory(rules=[RULE], events=events)) as kefu:
            yield kefu
        return
    server = NatsServer(tmp_path)
    server.start()
    try:
        settings = settings_factory(bus=server.url, rules=[RULE], events=events)
        async with serving(settings) as kefu:
            kefu.nats_url = server.url  # type: ignore[attr-defined]
            yield kefu
    finally:
        server.stop()


async def rows(kefu: Kefu, query: Any) -> list[Any]:
    async with kefu.node.repos.db.connect() as conn:
        return list((await conn.execute(query)).all())


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def letters(kefu: Kefu, token: str) -> list[dict[str, Any]]:
    status, page = await kefu.get(LETTERS, token)
    assert status == 200, page
    items: list[dict[str, Any]] = page["items"]
    return items


def complaint(event_id: str, customer: str) -> dict[str, Any]:
    return {
        "type": "customer.complaint",
        "id": event_id,
        "customer_key": customer,
        "data": {"summary": f"parcel of {customer} lost"},
    }


async def dead_lettered(kefu: Kefu) -> float:
    """``kefu_events_dead_lettered_total`` as /metrics shows it (process-wide: compare)."""
    async with kefu.http.get(kefu.url("/metrics")) as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith("kefu_events_dead_lettered_total "):
            return float(line.split()[1])
    raise AssertionError("kefu_events_dead_lettered_total missing from /metrics")


async def tickets_of(kefu: Kefu, customer: str) -> list[Any]:
    return await rows(kefu, sa.select(tickets.c.id).where(tickets.c.customer_key == customer))


async def test_a_dead_letter_is_read_fixed_replayed_once_or_discarded(kefu_on: Kefu) -> None:
    kefu = kefu_on
    admin = await kefu.add_agent("Ada", Role.ADMIN)
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    dialect = kefu.node.repos.db.dialect
    await run_sql(kefu, REFUSE[dialect])
    counted = await dead_lettered(kefu)
    batch = {"events": [complaint("dl-1", BROKEN), complaint("ok-1", "C-fine")]}
    status, _ = await kefu.post("/api/v1/events", boss["token"], batch)
    assert status == 202

    # The rest flows; the refused one is dead-lettered whole, with why.
    await eventually(lambda: tickets_of(kefu, "C-fine"))
    (letter,) = await eventually(lambda: letters(kefu, admin["token"]))
    assert letter["event_id"] == "dl-1" and letter["type"] == "customer.complaint"
    assert letter["subject"] == "kefu.events.customer.complaint"
    assert "crm sync down" in letter["reason"] and letter["attempts"] == 2
    assert letter["event"]["data"] == {"summary": f"parcel of {BROKEN} lost"}
    assert letter["replayable"] is True and letter["raw"] is None and letter["dead_at"]
    status, one = await kefu.get(f"{LETTERS}/{letter['id']}", admin["token"])
    assert status == 200 and one == letter
    assert await dead_lettered(kefu) == counted + 1

    # Admins only; bad ids and cursors answer clearly and change nothing.
    status, body = await kefu.get(LETTERS, boss["token"])
    assert status == 403 and body["error"]["code"] == "insufficient_role"
    status, body = await kefu.post(f"{LETTERS}/{letter['id']}/replay", boss["token"])
    assert status == 403
    status, body = await kefu.get(f"{LETTERS}?cursor=abc", admin["token"])
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    for bad in ("999999", "abc", "0", "1" * 30):
        status, body = await kefu.post(f"{LETTERS}/{bad}/replay", admin["token"])
        assert status == 404 and body["error"]["code"] == "dead_letter_not_found", bad
        status, body = await kefu.delete(f"{LETTERS}/{bad}", admin["token"])
        assert status == 404, bad
    assert [x["id"] for x in await letters(kefu, admin["token"])] == [letter["id"]]

    # Replayed before the fix: it goes through the rules again and dies again, anew.
    status, body = await kefu.post(f"{LETTERS}/{letter['id']}/replay", admin["token"])
    assert status == 202 and body == {"event_id": "dl-1"}

    async def died_again() -> list[dict[str, Any]]:
        found = await letters(kefu, admin["token"])
        return [x for x in found if x["id"] != letter["id"]]

    (again,) = await eventually(died_again)
    assert again["event_id"] == "dl-1" and again["attempts"] == 2
    assert [x["id"] for x in await letters(kefu, admin["token"])] == [again["id"]]

    # Fixed, replayed: one ticket, the letter gone; a second replay finds nothing.
    await run_sql(kefu, ACCEPT[dialect])
    status, _ = await kefu.post(f"{LETTERS}/{again['id']}/replay", admin["token"])
    assert status == 202
    await eventually(lambda: tickets_of(kefu, BROKEN))
    status, body = await kefu.post(f"{LETTERS}/{again['id']}/replay", admin["token"])
    assert status == 404
    assert await letters(kefu, admin["token"]) == []
    # The same event sent again by its department: applied once already, nothing new.
    status, _ = await kefu.post("/api/v1/events", boss["token"], complaint("dl-1", BROKEN))
    assert status == 202
    # Barrier: another customer's complaint sent after it; once that one's ticket is there
    # the copy before it has been consumed.
    status, _ = await kefu.post("/api/v1/events", boss["token"], complaint("dl-m", "C-marker"))
    assert status == 202
    await eventually(lambda: tickets_of(kefu, "C-marker"))
    assert len(await tickets_of(kefu, BROKEN)) == 1

    # Discarded: gone for good, no effect, recorded.
    await run_sql(kefu, REFUSE[dialect])
    status, _ = await kefu.post("/api/v1/events", boss["token"], complaint("dl-2", BROKEN))
    (second,) = await eventually(lambda: letters(kefu, admin["token"]))
    assert second["event_id"] == "dl-2"
    status, _ = await kefu.delete(f"{LETTERS}/{second['id']}", admin["token"])
    assert status == 204
    status, _ = await kefu.delete(f"{LETTERS}/{second['id']}", admin["token"])
    assert status == 404
    assert await letters(kefu, admin["token"]) == []
    assert len(await tickets_of(kefu, BROKEN)) == 1
    audit = await rows(
        kefu,
        sa.select(audit_log.c.action, audit_log.c.target, audit_log.c.actor).where(
            audit_log.c.action.like("event.dead_letter.%")
        ),
    )
    assert sorted(audit) == sorted(
        [
            ("event.dead_letter.replay", "dl-1", f"agent:{admin['id']}"),
            ("event.dead_letter.replay", "dl-1", f"agent:{admin['id']}"),
            ("event.dead_letter.discard", "dl-2", f"agent:{admin['id']}"),
        ]
    ), audit


async def test_pages_follow_the_cursor(kefu_on: Kefu) -> None:
    kefu = kefu_on
    admin = await kefu.add_agent("Ada", Role.ADMIN)
    await run_sql(kefu, REFUSE[kefu.node.repos.db.dialect])
    batch = {"events": [complaint(f"dl-{i}", BROKEN) for i in range(5)]}
    status, _ = await kefu.post("/api/v1/events", admin["token"], batch)
    assert status == 202

    async def five() -> bool:
        return len(await letters(kefu, admin["token"])) == 5

    await eventually(five)
    seen: list[str] = []
    cursor = ""
    while True:
        status, page = await kefu.get(f"{LETTERS}?limit=2{cursor}", admin["token"])
        assert status == 200 and len(page["items"]) <= 2
        seen += [item["event_id"] for item in page["items"]]
        if page["next"] is None:
            break
        cursor = f"&cursor={page['next']}"
    assert sorted(seen) == [f"dl-{i}" for i in range(5)]
    status, body = await kefu.get(f"{LETTERS}?limit=0", admin["token"])
    assert status in (400, 422) and "error" in body


async def test_a_payload_that_is_no_event_can_only_be_discarded(
    settings_factory: Callable[..., Settings], nats: NatsServer
) -> None:
    """Only JetStream takes payloads from outside kefu's validation (systems publishing
    straight to NATS): junk is dead-lettered at once, shown as text, never replayed."""
    settings = settings_factory(bus=nats.url, rules=[RULE], events={"batch": 20})
    async with serving(settings) as kefu:
        admin = await kefu.add_agent("Ada", Role.ADMIN)
        client = await nats_client.connect(nats.url)
        try:
            await client.publish("kefu.events.customer.complaint", b"<complaint>lost</complaint>")
            await client.flush()
        finally:
            await client.close()
        (letter,) = await eventually(lambda: letters(kefu, admin["token"]))
        assert letter["replayable"] is False and letter["event"] is None
        assert letter["raw"] == "<complaint>lost</complaint>" and "not JSON" in letter["reason"]
        status, body = await kefu.post(f"{LETTERS}/{letter['id']}/replay", admin["token"])
        assert status == 409 and body["error"]["code"] == "dead_letter_not_replayable"
        assert [x["id"] for x in await letters(kefu, admin["token"])] == [letter["id"]]
        status, _ = await kefu.delete(f"{LETTERS}/{letter['id']}", admin["token"])
        assert status == 204
        assert await letters(kefu, admin["token"]) == []
