"""Feedback in Chromium (issue 15 item 16): a clear "Disconnected" banner in the console
and the widget while the socket is down (gone once it is back), "?" for the keyboard
shortcuts, and arrow keys that move through the conversation list without leaving it.
At 1280x800, 1366x768 and 375x812; screenshots in ``test-artifacts/``."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from playwright.async_api import Page, WebSocketRoute, expect

from kefu.web.shop import ShopServer
from tests.support.browser import Opener, agent, shot, sign_in
from tests.support.kefu import Kefu
from tests.support.layout import SIZES, off_screen
from tests.support.widget import LiveKefu, open_widget, screenshot, visitor_says


class Link:
    """The page's WebSockets through Playwright: passed to the server, or cut."""

    def __init__(self) -> None:
        self.down = False
        self.routes: list[WebSocketRoute] = []

    async def handle(self, route: WebSocketRoute) -> None:
        if self.down:
            await route.close(code=1011, reason="test: network down")
            return
        route.connect_to_server()
        self.routes.append(route)

    async def cut(self) -> None:
        self.down = True
        for route in self.routes:
            await route.close(code=1011, reason="test: network down")
        self.routes.clear()


async def _route(page: Page, link: Link) -> None:
    await page.route_web_socket(re.compile(r"/ws\b"), link.handle)


async def test_the_console_says_when_it_is_disconnected(kefu: Kefu, browser: Opener) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser(1280, 800)
    link = Link()
    await _route(page, link)
    await sign_in(page, kefu, ann["email"])
    banner = page.locator("#offline-banner")
    await expect(banner).to_be_hidden()
    await link.cut()
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Disconnected")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        assert await off_screen(page, "#offline-banner") == []
        await shot(page, f"disconnected-{width}")
    link.down = False
    await expect(page.locator("#conn-state")).to_have_text("online", timeout=20_000)
    await expect(banner).to_be_hidden()


async def test_the_widget_says_when_it_is_disconnected(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    await live.agent(http)
    link = Link()
    await _route(page, link)
    await open_widget(page, shop)
    await visitor_says(page, "Hello")
    status = page.locator("header .status")
    await expect(status).not_to_have_text(re.compile("Connecting"))
    lost = page.locator(".lost")
    await expect(lost).to_be_hidden()
    await link.cut()
    await expect(lost).to_be_visible()
    await expect(lost).to_contain_text("Connection lost")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await screenshot(page, f"disconnected-{width}")
    link.down = False
    await expect(lost).to_be_hidden(timeout=40_000)


async def test_shortcut_help_and_arrow_keys_in_the_list(kefu: Kefu, browser: Opener) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser(1280, 800)
    await sign_in(page, kefu, ann["email"])
    sockets: list[Any] = []
    ids = []
    for name in ("Ada", "Ben", "Cy"):
        socket = await kefu.ws((await kefu.visitor(name=name))["token"])
        ids.append((await socket.send_message(f"Hi, I am {name}"))["conversation_id"])
        sockets.append(socket)
    rows = page.locator("#conv-list li")
    await expect(rows).to_have_count(3)
    order = [await r.get_attribute("data-id") for r in await rows.all()]

    # "?" opens the help (not while typing); Esc closes it.
    await page.locator("body").press("?")
    help_ = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(help_).to_be_visible()
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        assert await off_screen(page, "#shortcuts") == []
        await shot(page, f"shortcuts-{width}")
    await page.keyboard.press("Escape")
    await expect(help_).to_be_hidden()

    await page.set_viewport_size({"width": 1280, "height": 800})
    listbox = page.locator("#conv-list")
    await listbox.focus()
    for expected in order:
        await page.keyboard.press("ArrowDown")
        await expect(page.locator("#conv-list li.selected")).to_have_attribute("data-id", expected)
        await expect(page.locator("#messages .msg-text").first).to_be_visible()
        await expect(listbox).to_be_focused()  # still in the list
    await page.keyboard.press("ArrowUp")
    await expect(page.locator("#conv-list li.selected")).to_have_attribute("data-id", order[1])
    await expect(listbox).to_be_focused()
    await page.keyboard.press("Enter")
    composer = page.get_by_label("Message", exact=True)
    await expect(composer).to_be_focused()
    await composer.press_sequentially("what?")
    await expect(help_).to_be_hidden()  # typed, not a shortcut
    await expect(composer).to_have_value("what?")
    for socket in sockets:
        await socket.close()
