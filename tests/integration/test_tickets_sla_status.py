"""The server judges each ticket's SLA and sends the verdict (``sla_status``) with every
ticket answer and live ticket frame, so a console shows the rules' verdict instead of a
copy of them (issue 13, Deliver 2). Over HTTP and a WebSocket, on SQLite and PostgreSQL,
with a clock the test moves: ok, warning an hour ahead (or at the policy's warning if
earlier), breached, the resolution clock paused while pending, remaining time counted in
business minutes, and met or missed once solved."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.server import create_app
from kefu.tickets import live
from kefu.tickets.sla_json import SlaStatusJson
from tests.support.kefu import Kefu

FRIDAY = datetime(2031, 3, 7, 17, 0, tzinfo=UTC)  # an hour before the business closes
MONDAY = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
TICKETS = {
    "business_hours": {"timezone": "UTC", "start": "09:00", "end": "18:00"},
    "sla_policies": {
        # Every minute counts; warns 30 min ahead, so the hour's notice comes first.
        "default": {
            "business_hours": False,
            "first_response_minutes": {"urgent": 30, "high": 60, "normal": 240, "low": 480},
            "resolution_minutes": {"urgent": 240, "high": 480, "normal": 1440, "low": 2880},
        },
    },
}
BUSINESS = {
    "business_hours": {"timezone": "UTC", "start": "09:00", "end": "18:00"},
    "sla_policies": {
        # Business minutes; warns two hours ahead, earlier than the hour's notice.
        "default": {
            "first_response_minutes": {"urgent": 30, "high": 60, "normal": 240, "low": 480},
            "resolution_minutes": {"urgent": 240, "high": 480, "normal": 1440, "low": 2880},
            "warn_before_minutes": 120,
        },
    },
}


class MovableClock:
    """Real time until ``set``: the sign-in happens then, because tokens are checked
    against the real time (a token stamped in 2031 is not valid yet)."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@contextlib.asynccontextmanager
async def served(settings: Settings, clock: MovableClock) -> AsyncIterator[Kefu]:
    async with running_node(settings, clock=clock) as node:
        server = TestServer(create_app(node), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as http:
                yield Kefu(node, server, http)
        finally:
            await server.close()


def z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def verdict(ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket's ``sla_status``, checked against its one schema."""
    msgspec.convert(ticket["sla_status"], SlaStatusJson)
    status: dict[str, Any] = ticket["sla_status"]
    return status


async def fetch(kefu: Kefu, token: str, ticket_id: str) -> dict[str, Any]:
    status, ticket = await kefu.get(f"/api/v1/tickets/{ticket_id}", token)
    assert status == 200, ticket
    return verdict(ticket)


async def test_the_verdict_moves_with_the_clock_over_http(
    settings_factory: Callable[..., Settings],
) -> None:
    clock = MovableClock()
    async with served(settings_factory(tickets=TICKETS), clock) as kefu:
        ann = await kefu.add_agent("Ann")
        clock.set(MONDAY)
        token = ann["token"]
        status, ticket = await kefu.post(
            "/api/v1/tickets", token, {"customer_key": "C1", "subject": "Late", "body": "Where?"}
        )
        assert status == 201, ticket
        due = MONDAY + timedelta(minutes=240)
        assert verdict(ticket) == {
            "state": "ok",
            "target": "first_response",
            "due_at": z(due),
            "warning_at": z(due - timedelta(hours=1)),  # the hour's notice beats 30 min
            "remaining_minutes": 240.0,
            "paused": False,
            "as_of": z(MONDAY),
        }
        clock.advance(minutes=195)
        now = await fetch(kefu, token, ticket["id"])
        assert (now["state"], now["remaining_minutes"]) == ("warning", 45.0)
        status, page = await kefu.get("/api/v1/tickets", token)  # the list says the same
        assert status == 200 and verdict(page["items"][0]) == now
        clock.advance(minutes=50)
        now = await fetch(kefu, token, ticket["id"])
        assert now["state"] == "breached" and now["due_at"] == z(due)
        assert now["remaining_minutes"] is None and now["warning_at"] is None

        # The first reply ends that target: the resolution runs (due a day after creation).
        status, _ = await kefu.post(
            f"/api/v1/tickets/{ticket['id']}/comments", token, {"body": "On it"}
        )
        assert status == 201
        resolution = MONDAY + timedelta(minutes=1440)
        now = await fetch(kefu, token, ticket["id"])
        assert (now["state"], now["target"], now["due_at"]) == ("ok", "resolution", z(resolution))
        assert now["remaining_minutes"] == 1440 - 245

        # Pending stops the resolution clock: paused, with the time left frozen.
        status, patched = await kefu.patch(
            f"/api/v1/tickets/{ticket['id']}", token, {"status": "pending"}
        )
        assert status == 200, patched
        assert verdict(patched)["state"] == "paused" and verdict(patched)["paused"] is True
        clock.advance(minutes=600)
        now = await fetch(kefu, token, ticket["id"])
        assert (now["state"], now["remaining_minutes"]) == ("paused", 1440 - 245)

        # Solved: the first response was late, so the SLA was missed.
        status, solved = await kefu.patch(
            f"/api/v1/tickets/{ticket['id']}", token, {"status": "solved"}
        )
        assert status == 200, solved
        assert verdict(solved)["state"] == "missed"
        assert verdict(solved)["target"] is None and verdict(solved)["due_at"] is None


async def test_remaining_time_is_business_time_and_frames_carry_the_verdict(
    settings_factory: Callable[..., Settings],
) -> None:
    clock = MovableClock()
    async with served(settings_factory(tickets=BUSINESS), clock) as kefu:
        ann = await kefu.add_agent("Ann")
        socket = await kefu.ws(ann["token"])
        clock.set(FRIDAY)
        status, ticket = await kefu.post(
            "/api/v1/tickets",
            ann["token"],
            {"customer_key": "C1", "subject": "Weekend", "body": "Help", "priority": "urgent"},
        )
        assert status == 201, ticket
        # Friday 17:00 + 30 business minutes: 17:30. A normal one: Monday 12:00.
        assert verdict(ticket)["due_at"] == z(FRIDAY + timedelta(minutes=30))
        assert verdict(ticket)["state"] == "warning"  # the policy warns 2 h ahead
        frame = await socket.expect("ticket.created")
        live.check(msgspec.json.encode(frame))
        assert frame["ticket"]["sla_status"] == verdict(ticket)

        status, normal = await kefu.post(
            "/api/v1/tickets", ann["token"], {"customer_key": "C2", "subject": "Q", "body": "?"}
        )
        assert status == 201, normal
        monday_noon = datetime(2031, 3, 10, 12, 0, tzinfo=UTC)
        assert verdict(normal)["due_at"] == z(monday_noon)
        assert verdict(normal)["remaining_minutes"] == 240.0  # not the 67 wall hours
        # Warned two business hours ahead: Monday 10:00, before the hour's notice at 11:00.
        assert verdict(normal)["warning_at"] == z(monday_noon - timedelta(hours=2))
        assert verdict(normal)["state"] == "ok"
        clock.advance(hours=64)  # Monday 09:00: three business hours left
        changed = await kefu.patch(
            f"/api/v1/tickets/{normal['id']}", ann["token"], {"priority": "low"}
        )
        assert changed[0] == 200, changed
        frame = await socket.expect("ticket.updated", timeout=5)
        while frame["ticket"]["id"] != normal["id"]:
            frame = await socket.expect("ticket.updated", timeout=5)
        live.check(msgspec.json.encode(frame))
        # Low: 480 business minutes from Friday 17:00 is Monday 16:00; 7 h left at 09:00.
        assert frame["ticket"]["sla_status"]["remaining_minutes"] == 420.0
        assert frame["ticket"]["sla_status"]["as_of"] == z(clock.now())
        await socket.close()
