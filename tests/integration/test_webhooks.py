"""Outgoing webhooks against real HTTP receivers (aiohttp on 127.0.0.1), on both stores.

Receivers are scripted (status codes, a hang, a slow reply, a redirect) and record what
arrived, with headers, raw body and arrival time. Delays are lower bounds only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from kefu.bootstrap import running_node
from kefu.clock import SystemClock
from kefu.config import Settings
from kefu.domain.envelope import Event, encode
from kefu.domain.roles import Role
from kefu.domain.webhooks import Delivery, DeliveryStatus, backoff_seconds
from kefu.errors import ConfigError
from kefu.server import create_app
from kefu.store.database import Database
from kefu.store.unit_of_work import unit_of_work
from kefu.store.webhooks import WebhookRepository
from kefu.webhooks.service import WebhookService
from kefu.webhooks.settings import WebhookEndpoint
from kefu.webhooks.signing import SignatureInvalid, verify
from tests.support.kefu import Kefu

SECRET = "whsec_test_0123456789abcdef"
FAST = {"backoff_seconds": 0.05, "max_backoff_seconds": 1.0}


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


class Receiver:
    """A webhook receiver on a real socket whose answers the test scripts.

    ``script`` statuses are answered in order, then ``default``. While ``gate`` is set to
    an unset event, requests hang until it is set; ``delay`` slows every answer.
    """

    def __init__(self, script: list[int] | None = None, default: int = 200) -> None:
        self.script = list(script or [])
        self.default = default
        self.gate: asyncio.Event | None = None
        self.delay = 0.0
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/moved", self._moved)
        app.router.add_post("/target", self._hook)
        self._app = app
        self._server: TestServer | None = None
        self.port = 0

    async def start(self, port: int = 0) -> Receiver:
        self._server = TestServer(self._app, host="127.0.0.1", port=port)
        await self._server.start_server()
        self.port = self._server.port or 0
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]

    async def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        if self._server is not None:
            await self._server.close()

    async def _hook(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            body = await request.read()
            self.hits.append(Hit(request.path, dict(request.headers), body, time.monotonic()))
            if self.gate is not None:
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.script.pop(0) if self.script else self.default
            text = "thanks" if status < 300 else f"receiver refuses: status {status}"
            return web.Response(status=status, text=text)
        finally:
            self.in_flight -= 1

    async def _moved(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(request.path, dict(request.headers), await request.read(), 0.0))
        return web.Response(status=302, headers={"Location": "/target"})


@contextlib.asynccontextmanager
async def receiving(
    script: list[int] | None = None, default: int = 200, port: int = 0
) -> AsyncIterator[Receiver]:
    receiver = await Receiver(script, default).start(port)
    try:
        yield receiver
    finally:
        await receiver.close()


def endpoint(url: str, **options: Any) -> dict[str, Any]:
    return {"url": url, "secret": SECRET, **FAST, **options}


@contextlib.asynccontextmanager
async def served(
    settings_factory: Callable[..., Settings], **webhooks: dict[str, Any]
) -> AsyncIterator[Kefu]:
    async with running_node(settings_factory(webhooks=webhooks)) as node:
        server = TestServer(create_app(node), host="127.0.0.1")
        await server.start_server()
        try:
            async with ClientSession() as http:
                yield Kefu(node, server, http)
        finally:
            await server.close()


def make_event(kind: str = "customer.complaint", **data: Any) -> Event:
    return Event(
        id=f"evt_{secrets.token_hex(6)}",
        type=kind,
        data=data or {"text": "the parcel never came", "stars": 1},
        customer_key="cust-42",
        occurred_at="2026-11-30T09:00:00Z",
        source="test",
    )


async def enqueue(service: WebhookService, db: Database, name: str, event: Event) -> None:
    """As the rules engine does: enqueue in a unit of work (the worker is woken once it
    committed)."""
    async with unit_of_work(db) as uow:
        await service.enqueue(uow, name, event, SystemClock().now())


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 15.0) -> None:
    """Wait for ``check``; ``within`` only stops a hung test, it asserts no speed."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.02)


async def log_of(service: WebhookService, name: str) -> list[Delivery]:
    return await service.deliveries(name, status=None, before_id=None, limit=200)


async def settled(service: WebhookService, name: str, count: int) -> bool:
    log = await log_of(service, name)
    return len(log) == count and all(d.status != DeliveryStatus.PENDING for d in log)


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (item,) = [item for item in items if item["name"] == name]
    return item


async def admin(kefu: Kefu) -> str:
    token: str = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    return token


# ---- signing and what a receiver sees --------------------------------------------------


async def test_a_delivery_is_signed_and_carries_the_event_and_its_ids(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        receiving() as receiver,
        served(
            settings_factory,
            crm=endpoint(receiver.url(), headers={"X-Team": "crm", "User-Agent": "spoof"}),
        ) as kefu,
    ):
        event = make_event(text="Zoë's parcel never came")
        await enqueue(kefu.node.webhooks, kefu.node.repos.db, "crm", event)
        await until(lambda: settled(kefu.node.webhooks, "crm", 1), "the delivery")

        (hit,) = receiver.hits
        (delivery,) = await log_of(kefu.node.webhooks, "crm")
        assert hit.body == encode(event)
        assert json.loads(hit.body)["data"]["text"] == "Zoë's parcel never came"
        assert hit.headers["Content-Type"] == "application/json"
        assert hit.headers["User-Agent"].startswith("kefu-webhooks/")
        assert hit.headers["X-Team"] == "crm"
        assert hit.headers["Kefu-Event-Id"] == event.id
        assert hit.headers["Kefu-Event-Type"] == "customer.complaint"
        assert hit.headers["Kefu-Delivery-Id"] == str(delivery.id)
        timestamp = int(hit.headers["Kefu-Timestamp"])
        header = hit.headers["Kefu-Signature"]
        assert header.startswith(f"t={timestamp},v1=")

        # What a receiver does with the raw body, as docs/webhooks.md shows.
        assert verify(SECRET, header, hit.body) == timestamp
        with pytest.raises(SignatureInvalid):
            verify("whsec_some_other_secret_value", header, hit.body)
        with pytest.raises(SignatureInvalid):
            verify(SECRET, header, hit.body.replace(b"never", b"always"))
        with pytest.raises(SignatureInvalid):
            verify(SECRET, header, hit.body, now=timestamp + 301)

        assert delivery.status is DeliveryStatus.DELIVERED
        assert delivery.attempts == 1
        assert delivery.last_status_code == 200
        assert delivery.delivered_at is not None
        assert delivery.next_attempt_at is None


async def test_an_unknown_endpoint_name_is_a_config_error(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        receiving() as receiver,
        served(settings_factory, crm=endpoint(receiver.url())) as kefu,
    ):
        assert kefu.node.webhooks.names == {"crm"}
        with pytest.raises(ConfigError, match="no endpoint named 'crn'"):
            await enqueue(kefu.node.webhooks, kefu.node.repos.db, "crn", make_event())


# ---- retries, failure, health ----------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on (yet): connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_receiver_down_then_failing_is_retried_with_growing_delays_until_it_takes_it(
    store_url: str,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    settings = WebhookEndpoint(url=url, secret=SECRET, backoff_seconds=0.05, max_attempts=12)
    ceiling = lambda c: c  # noqa: E731 - no jitter: the schedule is exact
    async with Database(store_url) as db:
        await db.migrate()
        async with WebhookService(
            WebhookRepository(db), {"crm": settings}, SystemClock(), jitter=ceiling
        ) as hooks:
            event = make_event()
            await enqueue(hooks, db, "crm", event)

            async def refused_twice() -> bool:
                (d,) = await log_of(hooks, "crm")
                return d.attempts >= 2

            await until(refused_twice, "two refused connections")
            (delivery,) = await log_of(hooks, "crm")
            assert delivery.status is DeliveryStatus.PENDING
            assert delivery.last_status_code is None
            assert delivery.last_error is not None and "Connect" in delivery.last_error
            (state,) = await hooks.endpoints()
            assert state.state.consecutive_failures >= 2

            # The receiver comes up on the port that refused, answers 500, 503, then 204.
            async with receiving(script=[500, 503], default=204, port=port) as receiver:
                await until(lambda: settled(hooks, "crm", 1), "the delivery")

                (delivery,) = await log_of(hooks, "crm")
                assert delivery.status is DeliveryStatus.DELIVERED
                assert delivery.last_status_code == 204
                assert delivery.last_error is None
                assert len(receiver.hits) == 3  # 500, 503, then 204
                attempts = delivery.attempts
                assert attempts >= 5  # at least two refused before the three answered
                # The answered ones were attempts n-2, n-1, n: each waited its backoff.
                first, second, third = (hit.at for hit in receiver.hits)
                assert second - first >= 0.9 * backoff_seconds(attempts - 2, 0.05, 3600, ceiling)
                assert third - second >= 0.9 * backoff_seconds(attempts - 1, 0.05, 3600, ceiling)
                assert all(hit.headers["Kefu-Event-Id"] == event.id for hit in receiver.hits)
                # Each attempt is signed afresh with its own timestamp.
                for hit in receiver.hits:
                    verify(SECRET, hit.headers["Kefu-Signature"], hit.body)
                (state,) = await hooks.endpoints()
                assert state.state.consecutive_failures == 0  # a success ends the run


async def test_the_same_event_enqueued_twice_is_delivered_once_per_endpoint(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        receiving() as crm,
        receiving() as erp,
        served(settings_factory, crm=endpoint(crm.url()), erp=endpoint(erp.url())) as kefu,
    ):
        hooks, db = kefu.node.webhooks, kefu.node.repos.db
        event = make_event()
        await enqueue(hooks, db, "crm", event)
        await enqueue(hooks, db, "crm", event)  # redelivered by the bus, routed again
        await enqueue(hooks, db, "erp", event)  # another endpoint: a delivery of its own
        await until(lambda: settled(hooks, "crm", 1), "crm's delivery")
        await until(lambda: settled(hooks, "erp", 1), "erp's delivery")
        await enqueue(hooks, db, "crm", event)  # even after it was delivered
        # Barrier: another event for crm, enqueued after the copies; once it is delivered
        # the worker has looked at crm's queue since, and a copy would be a row of its own.
        marker = make_event()
        await enqueue(hooks, db, "crm", marker)
        await until(lambda: settled(hooks, "crm", 2), "crm's delivery of the marker")
        assert [h.headers["Kefu-Event-Id"] for h in crm.hits] == [event.id, marker.id]
        assert [h.headers["Kefu-Event-Id"] for h in erp.hits] == [event.id]


async def test_a_delivery_fails_after_max_attempts_and_an_admin_can_retry_it(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        receiving(default=500) as receiver,
        served(settings_factory, crm=endpoint(receiver.url(), max_attempts=3)) as kefu,
    ):
        hooks = kefu.node.webhooks
        await enqueue(hooks, kefu.node.repos.db, "crm", make_event())
        await until(lambda: settled(hooks, "crm", 1), "the delivery to fail")

        token = await admin(kefu)
        status, page = await kefu.get("/api/v1/webhooks/crm/deliveries", token)
        assert status == 200
        (failed,) = page["items"]
        assert failed["status"] == "failed"
        assert failed["attempts"] == 3
        assert failed["last_status_code"] == 500
        assert failed["last_error"] == "HTTP 500: receiver refuses: status 500"
        assert failed["next_attempt_at"] is None
        assert failed["delivered_at"] is None
        assert len(receiver.hits) == 3

        receiver.default = 200
        status, retried = await kefu.post(
            f"/api/v1/webhooks/deliveries/{failed['id']}/retry", token
        )
        assert status == 200, retried
        assert retried["status"] == "pending"
        assert retried["attempts"] == 0  # a fresh set of attempts
        await until(lambda: settled(hooks, "crm", 1), "the retried delivery")
        (delivery,) = await log_of(hooks, "crm")
        assert delivery.status is DeliveryStatus.DELIVERED
        assert delivery.attempts == 1
        assert len(receiver.hits) == 4

        status, body = await kefu.post(f"/api/v1/webhooks/deliveries/{failed['id']}/retry", token)
        assert (status, body["error"]["code"]) == (409, "delivery_not_failed")


async def test_repeated_failures_disable_the_endpoint_hold_its_deliveries_until_enabled(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        receiving(default=500) as receiver,
        receiving() as witness,
        served(
            settings_factory,
            crm=endpoint(receiver.url(), max_attempts=10, disable_after_failures=3),
            ops=endpoint(witness.url()),
        ) as kefu,
    ):
        hooks, db = kefu.node.webhooks, kefu.node.repos.db
        token = await admin(kefu)
        first = make_event()
        await enqueue(hooks, db, "crm", first)

        async def disabled() -> bool:
            views = {view.name: view for view in await hooks.endpoints()}
            return views["crm"].state.disabled_at is not None

        await until(disabled, "the endpoint to be disabled")
        status, body = await kefu.get("/api/v1/webhooks", token)
        assert status == 200
        crm = by_name(body["items"], "crm")
        assert crm["consecutive_failures"] == 3
        assert crm["disabled_at"] is not None
        assert "3 failed attempts in a row" in crm["disabled_reason"]
        assert "HTTP 500" in crm["disabled_reason"]

        # Deliveries keep arriving but wait: nothing more is sent while disabled.
        later = [make_event(), make_event()]
        for event in later:
            await enqueue(hooks, db, "crm", event)
        # Barrier: one worker pass looks at every endpoint, so once a delivery to another
        # endpoint, enqueued after these, is done, a pass has seen them. Had it taken
        # them, their claim (a lease: next_attempt_at in the future) would show now.
        await enqueue(hooks, db, "ops", make_event())
        await until(lambda: settled(hooks, "ops", 1), "a later delivery to another endpoint")
        held = [d for d in await log_of(hooks, "crm") if d.event_id != first.id]
        assert len(held) == 2
        now = kefu.node.clock.now()
        assert all(d.attempts == 0 and d.next_attempt_at <= now for d in held), held
        assert len(receiver.hits) == 3
        status, body = await kefu.get("/api/v1/webhooks", token)
        assert by_name(body["items"], "crm")["pending"] == 3

        receiver.default = 200
        status, enabled = await kefu.post("/api/v1/webhooks/crm/enable", token)
        assert status == 200, enabled
        assert enabled["disabled_at"] is None
        assert enabled["disabled_reason"] is None
        assert enabled["consecutive_failures"] == 0
        await until(lambda: settled(hooks, "crm", 3), "the held deliveries")
        assert {h.headers["Kefu-Event-Id"] for h in receiver.hits[3:]} == {
            first.id,
            *(e.id for e in later),
        }
        log = {d.event_id: d for d in await log_of(hooks, "crm")}
        assert log[first.id].attempts == 4
        assert all(d.status is DeliveryStatus.DELIVERED for d in log.values())
        status, body = await kefu.get("/api/v1/webhooks", token)
        assert by_name(body["items"], "crm")["pending"] == 0
        status, audit = await kefu.get("/api/v1/audit", token)
        assert any(e["action"] == "webhook.enable" for e in audit["items"])


async def test_a_timeout_and_a_redirect_are_failures_and_redirects_are_not_followed(
    settings_factory: Callable[..., Settings],
) -> None:
    async with receiving() as receiver:
        receiver.delay = 1.0
        async with served(
            settings_factory,
            slow=endpoint(receiver.url(), timeout_seconds=0.2, max_attempts=1),
            moved=endpoint(receiver.url("/moved"), max_attempts=1),
        ) as kefu:
            hooks, db = kefu.node.webhooks, kefu.node.repos.db
            await enqueue(hooks, db, "slow", make_event())
            await enqueue(hooks, db, "moved", make_event())
            await until(lambda: settled(hooks, "slow", 1), "the slow one to fail")
            await until(lambda: settled(hooks, "moved", 1), "the moved one to fail")
            (slow,) = await log_of(hooks, "slow")
            assert slow.status is DeliveryStatus.FAILED
            assert slow.last_status_code is None
            assert slow.last_error == "no reply within 0.2 s"
            (moved,) = await log_of(hooks, "moved")
            assert moved.status is DeliveryStatus.FAILED
            assert moved.last_status_code == 302
            assert receiver.on("/target") == []


# ---- the admin API ---------------------------------------------------------------------


async def test_the_admin_api_is_for_admins_and_never_shows_secrets(
    settings_factory: Callable[..., Settings],
) -> None:
    async with (
        receiving() as receiver,
        served(
            settings_factory,
            crm=endpoint(receiver.url(), headers={"Authorization": "Bearer crm-credential"}),
        ) as kefu,
    ):
        paths = [
            ("GET", "/api/v1/webhooks"),
            ("GET", "/api/v1/webhooks/crm/deliveries"),
            ("POST", "/api/v1/webhooks/crm/enable"),
            ("POST", "/api/v1/webhooks/deliveries/1/retry"),
        ]
        agent = (await kefu.add_agent("Ann", Role.AGENT))["token"]
        supervisor = (await kefu.add_agent("Sue", Role.SUPERVISOR))["token"]
        visitor = (await kefu.visitor())["token"]
        for method, path in paths:
            for token, code in [
                (agent, "insufficient_role"),
                (supervisor, "insufficient_role"),
                (visitor, "agents_only"),
            ]:
                async with kefu.http.request(
                    method, kefu.url(path), headers={"Authorization": f"Bearer {token}"}
                ) as resp:
                    assert resp.status == 403, (method, path)
                    assert (await resp.json())["error"]["code"] == code
            async with kefu.http.request(method, kefu.url(path)) as resp:
                assert resp.status == 401

        token = await admin(kefu)
        async with kefu.http.get(
            kefu.url("/api/v1/webhooks"), headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 200
            text = await resp.text()
        assert SECRET not in text
        assert "crm-credential" not in text
        assert json.loads(text) == {
            "items": [
                {
                    "name": "crm",
                    "url": receiver.url(),
                    "consecutive_failures": 0,
                    "disabled_at": None,
                    "disabled_reason": None,
                    "pending": 0,
                    "source": "config",
                    "events": [],
                }
            ]
        }

        for method, path, code in [
            ("GET", "/api/v1/webhooks/erp/deliveries", "webhook_not_found"),
            ("POST", "/api/v1/webhooks/erp/enable", "webhook_not_found"),
            ("POST", "/api/v1/webhooks/deliveries/424242/retry", "delivery_not_found"),
            ("POST", "/api/v1/webhooks/deliveries/abc/retry", "delivery_not_found"),
            (
                "POST",
                "/api/v1/webhooks/deliveries/99999999999999999999999/retry",
                "delivery_not_found",
            ),
        ]:
            async with kefu.http.request(
                method, kefu.url(path), headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 404, (method, path)
                assert (await resp.json())["error"]["code"] == code

        status, body = await kefu.get("/api/v1/webhooks/crm/deliveries?cursor=zz", token)
        assert (status, body["error"]["code"]) == (400, "invalid_cursor")
        status, body = await kefu.get("/api/v1/webhooks/crm/deliveries?status=lost", token)
        assert (status, body["error"]["code"]) == (422, "validation_error")


async def test_the_delivery_log_is_newest_first_paged_and_filtered_by_status(
    settings_factory: Callable[..., Settings],
) -> None:
    async with receiving() as receiver:
        # Every second event is refused for good (one attempt): a mixed log.
        receiver.script = [200, 410, 200, 410, 200]
        async with served(settings_factory, crm=endpoint(receiver.url(), max_attempts=1)) as kefu:
            hooks, db = kefu.node.webhooks, kefu.node.repos.db
            events = [make_event("order.refunded", n=n) for n in range(5)]
            for event in events:  # one by one, so the receiver's script lines up
                await enqueue(hooks, db, "crm", event)
                await until(
                    lambda: settled(hooks, "crm", events.index(event) + 1),  # noqa: B023
                    "the delivery",
                )
            token = await admin(kefu)

            seen: list[dict[str, Any]] = []
            cursor = ""
            pages = 0
            while True:
                status, page = await kefu.get(
                    f"/api/v1/webhooks/crm/deliveries?limit=2&cursor={cursor}", token
                )
                assert status == 200, page
                seen += page["items"]
                pages += 1
                if page["next"] is None:
                    break
                cursor = page["next"]
            assert pages == 3
            assert [d["event_id"] for d in seen] == [e.id for e in reversed(events)]
            assert [int(d["id"]) for d in seen] == sorted(
                (int(d["id"]) for d in seen), reverse=True
            )
            assert [d["status"] for d in seen] == [
                "delivered",
                "failed",
                "delivered",
                "failed",
                "delivered",
            ]
            newest = seen[0]
            assert set(newest) == {
                "id",
                "endpoint",
                "event_id",
                "event_type",
                "status",
                "attempts",
                "last_status_code",
                "last_error",
                "created_at",
                "delivered_at",
                "next_attempt_at",
            }
            assert newest["event_type"] == "order.refunded"
            assert newest["attempts"] == 1
            assert newest["last_status_code"] == 200
            assert newest["created_at"].endswith("Z")
            assert newest["delivered_at"].endswith("Z")
            assert seen[1]["last_error"] == "HTTP 410: receiver refuses: status 410"

            status, failed = await kefu.get("/api/v1/webhooks/crm/deliveries?status=failed", token)
            assert [d["event_id"] for d in failed["items"]] == [events[3].id, events[1].id]
            assert failed["next"] is None


# ---- the loop and other nodes ----------------------------------------------------------


async def test_hanging_receivers_hold_only_their_slots_and_never_the_event_loop(
    settings_factory: Callable[..., Settings],
) -> None:
    async with receiving() as receiver:
        receiver.gate = asyncio.Event()
        async with served(
            settings_factory, crm=endpoint(receiver.url(), concurrency=2, timeout_seconds=30)
        ) as kefu:
            hooks, db = kefu.node.webhooks, kefu.node.repos.db
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            try:
                events = [make_event(n=n) for n in range(5)]
                for event in events:
                    await enqueue(hooks, db, "crm", event)

                async def two_hanging() -> bool:
                    return receiver.in_flight == 2

                await until(two_hanging, "two requests in flight")
                before = ticks
                await asyncio.sleep(0.3)
                # The loop ran all along, and kefu still answers while every slot hangs.
                assert ticks > before
                token = await admin(kefu)
                status, body = await kefu.get("/api/v1/webhooks", token)
                assert status == 200
                assert body["items"][0]["pending"] == 5
                assert receiver.in_flight == 2  # per-endpoint bound: the others wait
                receiver.gate.set()
                await until(lambda: settled(hooks, "crm", 5), "every delivery")
                assert receiver.max_in_flight == 2
                assert sorted(h.headers["Kefu-Event-Id"] for h in receiver.hits) == sorted(
                    e.id for e in events
                )
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_two_nodes_on_one_store_send_each_delivery_once(store_url: str) -> None:
    async with receiving() as receiver, Database(store_url) as db_a, Database(store_url) as db_b:
        await db_a.migrate()
        settings = {"crm": WebhookEndpoint(url=receiver.url(), secret=SECRET, concurrency=8)}
        clock = SystemClock()
        # A short poll: node B learns of node A's rows only by polling.
        async with (
            WebhookService(WebhookRepository(db_a), settings, clock, poll_seconds=0.05) as node_a,
            WebhookService(WebhookRepository(db_b), settings, clock, poll_seconds=0.05) as node_b,
        ):
            events = [make_event(n=n) for n in range(40)]
            for i, event in enumerate(events):
                await enqueue(node_a if i % 2 else node_b, db_a, "crm", event)
            await until(lambda: settled(node_a, "crm", 40), "every delivery")
            ids = [h.headers["Kefu-Event-Id"] for h in receiver.hits]
            assert sorted(ids) == sorted(e.id for e in events)
            assert len(set(ids)) == 40
