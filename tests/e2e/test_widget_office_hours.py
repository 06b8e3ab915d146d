"""The widget outside the office hours, in Chromium: an agent is online, but chat is
closed today, so the widget says when it opens (in the visitor's time) and offers the
offline form, which is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from kefu.web.shop import ShopServer
from tests.support import widget
from tests.support.widget import LiveKefu, open_widget, screenshot


@pytest.fixture
async def closed_today(tmp_path: Path, shop: ShopServer) -> AsyncIterator[LiveKefu]:
    async with widget.closed_today(tmp_path, shop, site_name="Demo shop") as server:
        yield server


async def test_the_widget_says_when_chat_opens(
    closed_today: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await closed_today.agent(http)
    socket = await http.ws_connect(closed_today.url + f"/ws?token={agent['token']}")
    await open_widget(page, shop)
    notice = page.locator(".notice", has_text="We're closed. We open")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(":00")
    await screenshot(page, "closed")
    await page.get_by_role("button", name="Leave a message").click()
    await page.get_by_role("textbox", name="Your email").fill("owl@example.com")
    await page.get_by_role("textbox", name="Your message").fill("Call me tomorrow")
    await page.get_by_role("button", name="Send message").click()
    await expect(page.get_by_text("Thanks! We will answer by email.")).to_be_visible()
    assert closed_today.node is not None
    assert [m.body for m in await closed_today.node.repos.offline.list()] == ["Call me tomorrow"]
    await socket.close()
