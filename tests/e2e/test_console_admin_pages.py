"""The admin pages of issue 15 in Chromium: Site & widget (texts per language, colour,
side, pre-chat form, office hours), Webhooks (add, delivery log, delete), API tokens
(create with the secret shown once, use, revoke), and editing canned replies,
auto-replies and agents in place. Each page is driven at 1280x800 and looked at (no
sideways scrolling, screenshot) at 1366x768 and 375x812, where the pages sit in the
phone's More menu. Refusals show as sentences and change nothing."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.browser import Opener, shot, sign_in
from tests.support.kefu import Kefu

SIZES = [(1280, 800), (1366, 768), (375, 812)]


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(sites=[{"id": "shop", "name": "Acme Shop", "origins": []}])


async def go(page: Page, name: str) -> None:
    """Open an admin page from the rail, or from the More menu on a phone."""
    if page.viewport_size and page.viewport_size["width"] <= 720:
        await page.get_by_role("button", name="More", exact=True).click()
        await page.locator("#more-menu").get_by_role("button", name=name, exact=True).click()
    else:
        await page.locator(".rail").get_by_role("button", name=name, exact=True).click()


async def fits(page: Page, selector: str) -> None:
    """Nothing on the page scrolls sideways."""
    wide = await page.evaluate(
        """(sel) => { const n = document.querySelector(sel);
        return [document.documentElement.scrollWidth - innerWidth,
                n.scrollWidth - n.clientWidth]; }""",
        selector,
    )
    assert wide[0] <= 0 and wide[1] <= 1, (selector, wide, page.viewport_size)


async def at_every_size(page: Page, kefu: Kefu, email: str, name: str, shot_name: str) -> None:
    """The page at the other two sizes: reached, fits, screenshot."""
    selector = {"Site & widget": "#page-texts", "Webhooks": "#page-webhooks"}.get(
        name, "#page-tokens" if name == "API tokens" else "#page-agents"
    )
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(kefu.url("/console"))
        await expect(page.locator("#conn-state")).to_have_text("online")
        await go(page, name)
        await expect(page.locator(selector + " h1")).to_be_visible()
        await fits(page, selector)
        await shot(page, f"{shot_name}-{width}x{height}")


async def admin_page(kefu: Kefu, browser: Opener) -> tuple[Page, dict[str, Any]]:
    root = await kefu.add_agent("Root", Role.ADMIN)
    page = await browser(width=1280, height=800)
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, kefu, root["email"])
    return page, root


# ---- Site & widget ------------------------------------------------------------------------


async def test_site_and_widget_page_saves_texts_look_prechat_and_hours(
    kefu: Kefu, browser: Opener, expected_errors: list[re.Pattern[str]]
) -> None:
    expected_errors.append(re.compile(r"status of 422 .*/api/v1/sites/shop/settings"))
    page, root = await admin_page(kefu, browser)
    await go(page, "Site & widget")
    await page.get_by_label("Site", exact=True).select_option("shop")
    form = page.locator(".site-form")
    en = form.locator("fieldset[data-lang=en]")
    zh = form.locator("fieldset[data-lang=zh-CN]")
    await en.get_by_label("Widget greeting").fill("Hello from Acme!")
    await en.get_by_label("Bot welcome").fill("Welcome to Acme, how can we help?")
    await zh.get_by_label("Bot welcome").fill("欢迎光临爱克美")
    await form.get_by_label("Name the bot signs with").fill("Acme Support")
    await form.get_by_label("Colour").fill("#0f766e")
    await form.get_by_label("Bottom left").check()
    await form.get_by_label("Email", exact=True).select_option("required")
    await form.get_by_label("Name", exact=True).select_option("optional")

    # Own hours with no day: said at once, nothing sent.
    await form.get_by_label("This site has its own office hours").check()
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        await form.get_by_label(day, exact=True).uncheck()
    await form.get_by_role("button", name="Save").click()
    await expect(form.locator(".form-error")).to_have_text("Pick at least one day.")
    # A time zone nobody knows (the console checks it with Intl, the server again): refused,
    # nothing stored.
    await form.get_by_label("Sat", exact=True).check()
    await form.get_by_label("Time zone").fill("Mars/Olympus")
    await form.get_by_role("button", name="Save").click()
    await expect(form.locator(".form-error")).to_contain_text("not an IANA time zone")
    status, stored = await kefu.get("/api/v1/sites/shop/settings", root["token"])
    assert stored["color"] == "#2563eb"  # unchanged by the refused save

    await form.get_by_label("Time zone").fill("Asia/Shanghai")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    status, stored = await kefu.get("/api/v1/sites/shop/settings", root["token"])
    assert status == 200
    assert stored["texts"]["en"]["greeting"] == "Hello from Acme!"
    assert stored["texts"]["zh-CN"]["welcome"] == "欢迎光临爱克美"
    assert (stored["color"], stored["position"]) == ("#0f766e", "left")
    assert stored["name"] == "Acme Support"
    assert stored["prechat"] == {"name": "optional", "email": "required"}
    assert stored["office_hours"] == {
        "timezone": "Asia/Shanghai",
        "days": ["sat"],
        "start": "09:00",
        "end": "18:00",
        "holidays": [],
        "special": [],
    }
    await shot(page, "admin-site-saved")
    # Read back after a reload: the form shows what is stored.
    await page.reload()
    await expect(page.locator("#conn-state")).to_have_text("online")
    await go(page, "Site & widget")
    await page.get_by_label("Site", exact=True).select_option("shop")
    await expect(en.get_by_label("Widget greeting")).to_have_value("Hello from Acme!")
    await expect(form.get_by_label("Bottom left")).to_be_checked()
    await at_every_size(page, kefu, root["email"], "Site & widget", "admin-site")


# ---- Webhooks ----------------------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[bytes]]]:
    got: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/hook", got
    await server.close()


async def test_webhooks_page_adds_shows_the_log_and_deletes(
    kefu: Kefu,
    browser: Opener,
    receiver: tuple[str, list[bytes]],
    expected_errors: list[re.Pattern[str]],
) -> None:
    expected_errors.append(re.compile(r"status of 409 .*/api/v1/webhooks"))
    url, got = receiver
    page, root = await admin_page(kefu, browser)
    await go(page, "Webhooks")
    await expect(page.locator("#page-webhooks")).to_contain_text("No webhooks yet.")
    form = page.locator("#wh-form")
    await form.get_by_label("Name").fill("orders")
    await form.get_by_label("URL").fill(url)
    await form.get_by_label("Events").fill("order.*, customer.upgrade")
    await form.get_by_role("button", name="Add").click()
    secret = page.locator("#wh-secret code.secret")
    await expect(secret).to_contain_text("whsec_")
    await shot(page, "admin-webhook-secret")
    # The same name again: the server's refusal as a sentence.
    await form.get_by_label("Name").fill("orders")
    await form.get_by_label("URL").fill(url)
    await form.get_by_label("Events").fill("order.*")
    await form.get_by_role("button", name="Add").click()
    await expect(page.locator("[data-error=webhooks]")).not_to_be_empty()

    event = {"type": "order.refunded", "customer_key": "C1", "data": {}}
    status, _ = await kefu.post("/api/v1/events", root["token"], event)
    assert status == 202
    deadline = time.monotonic() + 15
    while not got:  # the receiver's own record: the delivery arrived
        assert time.monotonic() < deadline, "no delivery"
        await asyncio.sleep(0.05)
    row = page.locator("#wh-rows tr[data-name=orders]")
    await row.get_by_role("button", name="Delivery log of orders").click()
    log = page.get_by_role("table", name="Delivery log of orders")
    for _ in range(50):  # the delivery is recorded right after the receiver answered
        if await log.locator("tr", has_text="delivered").count():
            break
        await row.get_by_role("button", name="Delivery log of orders").click()
        await row.get_by_role("button", name="Delivery log of orders").click()
    await expect(log.locator("tbody tr").first).to_contain_text("order.refunded")
    await expect(log.locator("tbody tr").first).to_contain_text("delivered")
    await shot(page, "admin-webhook-log")

    await row.get_by_role("button", name="Delete the webhook orders").click()
    await expect(page.locator("#wh-rows tr[data-name=orders]")).to_have_count(0)
    status, listed = await kefu.get("/api/v1/webhooks", root["token"])
    assert listed["items"] == []
    await at_every_size(page, kefu, root["email"], "Webhooks", "admin-webhooks")


# ---- API tokens --------------------------------------------------------------------------


async def test_tokens_page_creates_shows_the_secret_once_and_revokes(
    kefu: Kefu, browser: Opener
) -> None:
    page, root = await admin_page(kefu, browser)
    await go(page, "API tokens")
    form = page.locator("#tok-form")
    await form.get_by_label("Name").fill("Order system")
    await form.get_by_role("button", name="Create token").click()
    await expect(page.locator("[data-error=tokens]")).to_have_text("Pick at least one scope.")
    await form.get_by_label("events:write").check()
    await form.get_by_role("button", name="Create token").click()
    secret = await page.locator("#tok-secret code.secret").inner_text()
    assert secret
    await shot(page, "admin-token-secret")
    status, _ = await kefu.post(
        "/api/v1/events", secret, {"type": "order.paid", "customer_key": "C1", "data": {}}
    )
    assert status == 202  # the token works for its scope
    status, _ = await kefu.get("/api/v1/tickets", secret)
    assert status == 403  # and for nothing else
    row = page.locator(".tok-table tr", has_text="Order system")
    await expect(row).to_contain_text("events:write")
    await page.reload()
    await expect(page.locator("#conn-state")).to_have_text("online")
    await go(page, "API tokens")
    await expect(page.locator("#tok-secret")).to_be_hidden()  # shown once only
    await row.get_by_role("button", name="Revoke the token Order system").click()
    await expect(row).to_contain_text("revoked")
    status, _ = await kefu.post(
        "/api/v1/events", secret, {"type": "order.paid", "customer_key": "C1", "data": {}}
    )
    assert status == 401
    await at_every_size(page, kefu, root["email"], "API tokens", "admin-tokens")


# ---- editing in place: canned replies, auto-replies, agents --------------------------------


async def test_canned_replies_auto_replies_and_agents_are_edited_in_place(
    kefu: Kefu, browser: Opener
) -> None:
    page, root = await admin_page(kefu, browser)
    token = root["token"]
    status, _ = await kefu.post(
        "/api/v1/canned-replies", token, {"shortcut": "hi", "title": "Hello", "body": "Hi there!"}
    )
    assert status == 201
    status, _ = await kefu.post(
        "/api/v1/auto-replies", token, {"keywords": ["hours"], "reply": "9 to 5"}
    )
    assert status == 201
    ann = await kefu.add_agent("Ann")

    await go(page, "Canned replies")
    await page.locator("#canned-rows").get_by_role("button", name="Edit /hi").click()
    row = page.locator("#canned-rows tr.editing")  # its text is in inputs now
    await row.get_by_label("Text").fill("Hello, and welcome!")
    await row.get_by_label("Shortcut").fill("bad shortcut")
    await row.get_by_role("button", name="Save").click()  # the browser refuses the pattern
    await row.get_by_label("Shortcut").fill("hello")
    await row.get_by_role("button", name="Save").click()
    edited = page.locator("#canned-rows tr", has_text="/hello")
    await expect(edited).to_contain_text("Hello, and welcome!")
    _, replies = await kefu.get("/api/v1/canned-replies", token)
    assert [(r["shortcut"], r["body"]) for r in replies] == [("hello", "Hello, and welcome!")]

    await go(page, "Auto-replies")
    edit = page.locator("#auto-rows").get_by_role("button", name="Edit the auto-reply for hours")
    await edit.click()
    row = page.locator("#auto-rows tr.editing")
    await row.get_by_label("Reply").fill("9 to 6, Monday to Saturday")
    await row.get_by_label("Keywords").press("Escape")  # Esc cancels
    await expect(page.locator("#auto-rows tr").first).to_contain_text("9 to 5")
    await edit.click()
    await row.get_by_label("Keywords").fill("hours, open")
    await row.get_by_label("Reply").fill("9 to 6, Monday to Saturday")
    await row.get_by_role("button", name="Save").click()
    await expect(page.locator("#auto-rows")).to_contain_text("hours, open")
    _, rules = await kefu.get("/api/v1/auto-replies", token)
    assert [(r["keywords"], r["reply"]) for r in rules] == [
        (["hours", "open"], "9 to 6, Monday to Saturday")
    ]

    await go(page, "Agents")
    row = page.locator("#agents-rows tr", has_text=ann["email"])
    await row.get_by_role("button", name="Rename Ann").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Name").fill("Ann Lee")
    await shot(page, "admin-agent-rename")
    await dialog.get_by_role("button", name="Save").click()
    await expect(row).to_contain_text("Ann Lee")
    await row.get_by_role("button", name="Reset the password of Ann Lee").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("New password").fill("short")
    # Too short: the browser says so and the dialog stays.
    await dialog.get_by_role("button", name="Reset password").click()
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("New password").fill("a-brand-new-secret")
    await dialog.get_by_role("button", name="Reset password").click()
    await expect(page.get_by_role("dialog")).to_have_count(0)
    # The PATCH goes once the dialog closed: wait for the new password to work.
    deadline = time.monotonic() + 10
    while True:
        async with kefu.http.post(
            kefu.url("/api/v1/auth/login"),
            json={"email": ann["email"], "password": "a-brand-new-secret"},
        ) as resp:
            if resp.status == 200:
                assert (await resp.json())["agent"]["name"] == "Ann Lee"
                break
        assert time.monotonic() < deadline, "the new password never worked"
        await asyncio.sleep(0.05)
    await at_every_size(page, kefu, root["email"], "Agents", "admin-agents-edit")
