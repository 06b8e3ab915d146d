"""What the console's admin pages change over REST (issue 15 items 12 and 15), on SQLite
and PostgreSQL: per-site widget settings, texts and office hours (and the widget's public
read of them, and the bot's welcome honouring them), console webhooks with their delivery
log, auto-replies edited in place, and tickets from a chat with a chosen subject, priority
and assignee. Bad input answers the contract's error shape and changes nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.kefu import Kefu


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        sites=[
            {"id": "shop", "name": "Acme Shop", "origins": []},
            {"id": "cn", "name": "爱克美", "locale": "zh-CN", "origins": []},
        ],
        webhooks={
            "crm": {"url": "http://127.0.0.1:9/never", "secret": "whsec_test_0123456789abcdef"}
        },
    )


def _error(body: Any) -> str:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    code: str = body["error"]["code"]
    return code


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 15.0) -> None:
    """Wait for ``check``; ``within`` only stops a hung test, it asserts no speed."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what}")
        await asyncio.sleep(0.02)


# ---- sites: texts, widget, pre-chat, office hours -----------------------------------------

SHOP = {
    "name": "",
    "color": "#0F766E",
    "position": "left",
    "texts": {
        "en": {"greeting": "Hello from Acme", "welcome": "Welcome to Acme!", "offline": ""},
        "zh-CN": {"greeting": "您好", "welcome": "欢迎光临", "offline": "我们下线了"},
    },
    "prechat": {"name": "optional", "email": "required"},
    "office_hours": None,
}


async def test_site_settings_are_saved_served_to_the_widget_and_sign_the_bot(
    kefu: Kefu,
) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    status, sites = await kefu.get("/api/v1/sites", root)
    assert status == 200
    assert [(s["id"], s["name"], s["locale"]) for s in sites["items"]] == [
        ("default", None, "en"),
        ("shop", "Acme Shop", "en"),
        ("cn", "爱克美", "zh-CN"),
    ]
    assert sites["items"][1]["settings"]["color"] == "#2563eb"

    status, saved = await kefu.put("/api/v1/sites/shop/settings", root, SHOP)
    assert status == 200 and saved["color"] == "#0f766e", saved
    status, again = await kefu.get("/api/v1/sites/shop/settings", root)
    assert status == 200 and again == saved

    # The widget's public read: no token; greeting in the language asked for.
    async with kefu.http.get(kefu.url("/api/v1/widget-settings?site=shop&lang=zh-CN")) as resp:
        assert resp.status == 200
        widget = await resp.json()
    assert widget["color"] == "#0f766e" and widget["position"] == "left"
    assert widget["greeting"] == "您好" and widget["name"] == "Acme Shop"
    assert widget["prechat"] == {"name": "optional", "email": "required"}
    assert widget["open"] is True and widget["opens_at"] is None
    async with kefu.http.get(kefu.url("/api/v1/widget-settings?site=shop")) as resp:
        assert (await resp.json())["greeting"] == "Hello from Acme"
    # An unknown site is served the default site's settings (as its visitors are).
    async with kefu.http.get(kefu.url("/api/v1/widget-settings?site=nope")) as resp:
        fallback = await resp.json()
    assert fallback["site"] == "default" and fallback["color"] == "#2563eb"

    # A new conversation: the bot welcomes in the visitor's language, signed by the site,
    # and the list's preview is the visitor's words, not the bot's.
    ann = await kefu.add_agent("Ann")
    ann_ws = await kefu.ws(ann["token"])
    visitor = await kefu.visitor(site="shop", locale="zh-CN", email="li@example.com")
    ws = await kefu.ws(visitor["token"])
    sent = await ws.send_message("我的订单在哪里")
    bot = await ws.expect("message.new", timeout=5)
    while bot["message"]["sender"]["kind"] != "bot":
        bot = await ws.expect("message.new", timeout=5)
    assert bot["message"]["body"] == "欢迎光临"
    assert bot["message"]["sender"]["name"] == "Acme Shop"
    status, item = await kefu.get(f"/api/v1/conversations/{sent['conversation_id']}", ann["token"])
    assert status == 200 and item["last_message"]["body"] == "我的订单在哪里", item
    await ann_ws.close()
    await ws.close()


async def test_a_sites_office_hours_close_its_widget_and_send_the_offline_text(
    kefu: Kefu,
) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    now = kefu.node.clock.now()
    # Open only on a day that is not today (in UTC): closed now, opening on that day.
    other = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(now.weekday() + 2) % 7]
    hours = {"timezone": "UTC", "days": [other], "start": "09:00", "end": "17:00"}
    body = {**SHOP, "office_hours": hours}
    status, _ = await kefu.put("/api/v1/sites/shop/settings", root, body)
    assert status == 200
    async with kefu.http.get(kefu.url("/api/v1/widget-settings?site=shop")) as resp:
        widget = await resp.json()
    assert widget["open"] is False and widget["opens_at"].endswith("09:00:00Z"), widget
    async with kefu.http.get(kefu.url("/api/v1/widget-settings?site=cn")) as resp:
        assert (await resp.json())["open"] is True  # another site keeps its own hours

    await kefu.add_agent("Ann")  # online or not, the site is closed
    visitor = await kefu.visitor(site="shop", locale="en-GB", email="vera@example.com")
    ws = await kefu.ws(visitor["token"])
    await ws.send_message("anyone there?")
    bodies = []
    while len(bodies) < 2:
        frame = await ws.expect("message.new", timeout=5)
        if frame["message"]["sender"]["kind"] == "bot":
            bodies.append(frame["message"]["body"])
    # The site has no English offline text: the site's other language does not leak in,
    # the chat's own offline text is used.
    assert bodies == ["Welcome to Acme!", kefu.node.chat.offline_message]
    await ws.close()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"color": "red"}, "color"),
        ({"color": "#12345"}, "color"),
        ({"position": "top"}, "position"),
        ({"texts": {"fr": {"welcome": "Bonjour"}}}, "texts"),
        ({"texts": {"en": {"welcome": "x" * 4001}}}, "texts"),
        ({"prechat": {"name": "maybe"}}, "prechat"),
        ({"office_hours": {"timezone": "Mars/Olympus"}}, "office_hours"),
        ({"office_hours": {"start": "18:00", "end": "09:00"}}, "office_hours"),
        ({"office_hours": {"days": []}}, "office_hours"),
        ({"office_hours": {"days": ["someday"]}}, "office_hours"),
        ({"theme": "dark"}, "theme"),
    ],
)
async def test_bad_site_settings_are_refused_and_change_nothing(
    kefu: Kefu, change: dict[str, Any], field: str
) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    status, before = await kefu.put("/api/v1/sites/shop/settings", root, SHOP)
    assert status == 200
    status, body = await kefu.put("/api/v1/sites/shop/settings", root, {**SHOP, **change})
    assert status == 422 and _error(body) == "validation_error", body
    assert field in body["error"]["message"]
    status, after = await kefu.get("/api/v1/sites/shop/settings", root)
    assert after == before


async def test_site_settings_need_an_admin_and_a_known_site(kefu: Kefu) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    boss = (await kefu.add_agent("Boss", Role.SUPERVISOR))["token"]
    status, body = await kefu.put("/api/v1/sites/shop/settings", boss, SHOP)
    assert status == 403 and _error(body)
    status, body = await kefu.get("/api/v1/sites", boss)
    assert status == 403 and _error(body)
    status, body = await kefu.put("/api/v1/sites/elsewhere/settings", root, SHOP)
    assert status == 404 and _error(body) == "site_not_found"
    status, body = await kefu.get("/api/v1/sites/shop/settings", root)
    assert status == 200 and body["color"] == "#2563eb"  # the boss's PUT changed nothing


# ---- console webhooks ---------------------------------------------------------------------


class Receiver:
    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[bytes] = []
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.server = TestServer(app, host="127.0.0.1")

    async def _hook(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        return web.Response(status=self.status, text="nope" if self.status >= 300 else "ok")

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver(200)
    await made.server.start_server()
    yield made
    await made.server.close()


async def _event(kefu: Kefu, token: str, kind: str, event_id: str) -> None:
    status, body = await kefu.post(
        "/api/v1/events", token, {"type": kind, "customer_key": "C1", "data": {}, "id": event_id}
    )
    assert status == 202, body


async def test_console_webhooks_receive_their_events_and_show_a_delivery_log(
    kefu: Kefu, receiver: Receiver
) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    spec = {"name": "orders_team", "url": receiver.url(), "events": ["order.*"]}
    status, made = await kefu.post("/api/v1/webhooks", root, spec)
    assert status == 201, made
    assert made["source"] == "console" and made["events"] == ["order.*"]
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 30
    status, listed = await kefu.get("/api/v1/webhooks", root)
    by_name = {w["name"]: w for w in listed["items"]}
    assert by_name["crm"]["source"] == "config" and by_name["orders_team"]["source"] == "console"
    assert "secret" not in by_name["orders_team"]  # shown once, at creation

    await _event(kefu, root, "order.refunded", "evt-a1")
    await _event(kefu, root, "customer.complaint", "evt-a2")  # not subscribed

    async def delivered() -> bool:
        status, page = await kefu.get("/api/v1/webhooks/orders_team/deliveries", root)
        return status == 200 and any(d["status"] == "delivered" for d in page["items"])

    await until(delivered, "the delivery")
    status, page = await kefu.get("/api/v1/webhooks/orders_team/deliveries", root)
    assert [(d["event_id"], d["attempts"]) for d in page["items"]] == [("evt-a1", 1)]
    assert page["items"][0]["last_status_code"] == 200
    assert len(receiver.bodies) == 1 and b"order.refunded" in receiver.bodies[0]

    # A second with the same name is refused; so is deleting a configured one.
    status, body = await kefu.post("/api/v1/webhooks", root, spec)
    assert status == 409 and _error(body) == "webhook_exists"
    status, body = await kefu.post("/api/v1/webhooks", root, {**spec, "name": "crm"})
    assert status == 409 and _error(body) == "webhook_exists"
    status, body = await kefu.delete("/api/v1/webhooks/crm", root)
    assert status == 409 and _error(body) == "webhook_configured"

    status, _ = await kefu.delete("/api/v1/webhooks/orders_team", root)
    assert status == 204
    status, listed = await kefu.get("/api/v1/webhooks", root)
    assert [w["name"] for w in listed["items"]] == ["crm"]
    status, body = await kefu.get("/api/v1/webhooks/orders_team/deliveries", root)
    assert status == 404 and _error(body) == "webhook_not_found"
    status, body = await kefu.delete("/api/v1/webhooks/orders_team", root)
    assert status == 404 and _error(body) == "webhook_not_found"


async def test_a_failing_console_webhook_shows_attempts_and_the_last_error(
    kefu: Kefu,
) -> None:
    failing = Receiver(503)
    await failing.server.start_server()
    try:
        root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
        spec = {"name": "flaky", "url": failing.url(), "events": [">"]}
        status, _ = await kefu.post("/api/v1/webhooks", root, spec)
        assert status == 201
        await _event(kefu, root, "customer.upgrade", "evt-b1")

        async def tried() -> bool:
            _, page = await kefu.get("/api/v1/webhooks/flaky/deliveries", root)
            return bool(page["items"]) and page["items"][0]["attempts"] >= 1

        await until(tried, "a failed attempt")
        status, page = await kefu.get("/api/v1/webhooks/flaky/deliveries", root)
        item = page["items"][0]
        assert item["last_status_code"] == 503 and "HTTP 503" in item["last_error"]
    finally:
        await failing.server.close()


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "Bad Name", "url": "https://example.com/h", "events": ["ticket.*"]},
        {"name": "ok", "url": "ftp://example.com/h", "events": ["ticket.*"]},
        {"name": "ok", "url": "https://example.com/h", "events": []},
        {"name": "ok", "url": "https://example.com/h", "events": ["Ticket created"]},
        {"name": "ok", "url": "https://example.com/h", "events": ["ticket.*"], "secret": "x"},
        {"name": "ok", "url": "https://example.com/h"},
    ],
)
async def test_bad_webhooks_are_refused_and_nothing_is_added(
    kefu: Kefu, spec: dict[str, Any]
) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    status, body = await kefu.post("/api/v1/webhooks", root, spec)
    assert status == 422 and _error(body) == "validation_error", body
    status, listed = await kefu.get("/api/v1/webhooks", root)
    assert [w["name"] for w in listed["items"]] == ["crm"]
    agent = (await kefu.add_agent("Ann"))["token"]
    status, body = await kefu.post(
        "/api/v1/webhooks", agent, {"name": "x", "url": "https://e.com", "events": [">"]}
    )
    assert status == 403 and _error(body)


# ---- auto-replies edited in place; agents renamed, passwords reset -------------------------


async def test_auto_replies_are_edited_in_place(kefu: Kefu) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    status, rule = await kefu.post(
        "/api/v1/auto-replies", root, {"keywords": ["hours"], "reply": "9 to 5"}
    )
    assert status == 201
    path = f"/api/v1/auto-replies/{rule['id']}"
    status, edited = await kefu.patch(path, root, {"reply": "9 to 6, Mon-Sat"})
    assert status == 200 and edited == {**rule, "reply": "9 to 6, Mon-Sat"}
    status, edited = await kefu.patch(path, root, {"keywords": ["hours", "open"]})
    assert status == 200 and edited["keywords"] == ["hours", "open"]
    for bad in ({"keywords": []}, {"reply": ""}, {"reply": "x" * 4001}, {"other": 1}):
        status, body = await kefu.patch(path, root, bad)
        assert status == 422 and _error(body) == "validation_error", bad
    status, body = await kefu.patch(path, root, {})
    assert status == 400 and _error(body) == "empty_patch"
    status, body = await kefu.patch("/api/v1/auto-replies/ar_nope", root, {"reply": "x"})
    assert status == 404 and _error(body) == "auto_reply_not_found"
    status, rules = await kefu.get("/api/v1/auto-replies", root)
    assert rules == [{"id": rule["id"], "keywords": ["hours", "open"], "reply": "9 to 6, Mon-Sat"}]
    # The bot uses the edited rule at once.
    visitor = await kefu.visitor()
    ws = await kefu.ws(visitor["token"])
    first = await ws.send_message("hi")
    await ws.send_message("when are you open?", conversation_id=first["conversation_id"])
    while True:
        frame = await ws.expect("message.new", timeout=5)
        if frame["message"]["body"] == "9 to 6, Mon-Sat":
            break
    await ws.close()


async def test_an_admin_renames_an_agent_and_resets_the_password(kefu: Kefu) -> None:
    root = (await kefu.add_agent("Root", Role.ADMIN))["token"]
    ann = await kefu.add_agent("Ann")
    path = f"/api/v1/agents/{ann['id']}"
    status, body = await kefu.patch(path, root, {"name": "Ann Lee", "password": "a-new-secret-9"})
    assert status == 200 and body["name"] == "Ann Lee"
    fresh = await kefu.login(ann["email"], "a-new-secret-9")
    assert fresh["name"] == "Ann Lee"
    status, body = await kefu.patch(path, root, {"password": "short"})
    assert status == 422 and _error(body) == "validation_error"
    status, body = await kefu.patch(path, root, {"name": ""})
    assert status == 422 and _error(body) == "validation_error"
    await kefu.login(ann["email"], "a-new-secret-9")  # unchanged by the refused ones


# ---- a ticket from a chat: subject, priority, assignee; no bot lines ------------------------


async def _chat(kefu: Kefu, agent: dict[str, Any]) -> str:
    ws = await kefu.ws(agent["token"])
    visitor = await kefu.visitor(name="Vera")
    vws = await kefu.ws(visitor["token"])
    sent = await vws.send_message("my parcel is late")
    await ws.expect("conversation.opened", timeout=5)
    await vws.close()
    await ws.close()
    return str(sent["conversation_id"])


async def test_a_ticket_from_a_chat_takes_subject_priority_and_assignee(kefu: Kefu) -> None:
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    conversation = await _chat(kefu, ann)
    path = f"/api/v1/conversations/{conversation}/ticket"
    for bad, code, expected in (
        ({"priority": "asap"}, "validation_error", 422),
        ({"subject": "   "}, "validation_error", 422),
        ({"subject": "x" * 301}, "validation_error", 422),
        ({"assignee_id": ""}, "validation_error", 422),
        ({"assignee_id": "ag_nobody"}, "unknown_agent", 400),
        ({"title": "x"}, "validation_error", 422),
    ):
        status, body = await kefu.post(path, ann["token"], bad)
        assert status == expected and _error(body) == code, (bad, body)
    status, page = await kefu.get("/api/v1/tickets", ann["token"])
    assert page["items"] == []  # nothing was created by the refused ones

    body = {"subject": "Late parcel, order 42", "priority": "high", "assignee_id": bob["id"]}
    status, ticket = await kefu.post(path, ann["token"], body)
    assert status == 201, ticket
    assert ticket["subject"] == "Late parcel, order 42"
    assert ticket["priority"] == "high" and ticket["assignee_id"] == bob["id"]
    assert "my parcel is late" in ticket["body"]
    assert kefu.node.chat.welcome_message not in ticket["body"]  # the bot's line is left out
    status, again = await kefu.post(path, ann["token"], {"subject": "other"})
    assert status == 200 and again["id"] == ticket["id"] and again["subject"] == ticket["subject"]
