"""The widget honours what an admin set for its site (issue 15 item 15), in Chromium on a
shop page of another origin: the colour and side, the greeting, the pre-chat form (a
required email before the first message, stored on the visitor), the bot's welcome
signed with the site's name, and the site's own office hours (closed: it says when it
opens). At 1280x800, 1366x768 and 375x812 (a phone's panel stays full-screen)."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from playwright.async_api import Page, expect

from kefu.chat.sites import OfficeHours, Prechat, SiteConfig, SiteTexts
from kefu.web.shop import SITE_ID, ShopServer
from tests.support.widget import LiveKefu, open_widget, screenshot

SIZES = [(1280, 800), (1366, 768), (375, 812)]
TEAL = "#0f766e"


async def configure(live: LiveKefu, config: SiteConfig) -> None:
    assert live.node is not None
    sites = live.node.chat.greetings.sites
    assert sites is not None
    await sites.save(SITE_ID, config, live.node.clock.now())


LOOK = SiteConfig(
    name="Acme Support",
    color=TEAL,
    position="left",
    texts={"en": SiteTexts(greeting="Hello from Acme!", welcome="Welcome to Acme.")},
    prechat=Prechat(name="optional", email="required"),
)


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_the_widget_takes_the_sites_look_greeting_and_prechat_form(
    live: LiveKefu,
    shop: ShopServer,
    page: Page,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
) -> None:
    await configure(live, LOOK)
    agent = await live.agent(http)
    agent_ws = await http.ws_connect(live.url + f"/ws?token={agent['token']}")
    await page.set_viewport_size({"width": width, "height": height})
    await page.goto(shop.url + "/")
    launcher = page.get_by_role("button", name="Open chat")
    await expect(launcher).to_have_css("background-color", "rgb(15, 118, 110)")
    box = await launcher.bounding_box()
    assert box is not None and box["x"] < width / 2  # bottom left
    await launcher.click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator(".msg.welcome")).to_have_text("Hello from Acme!")
    panel = await dialog.bounding_box()
    assert panel is not None
    if width > 480:
        assert panel["x"] < width / 2
    else:
        assert panel["x"] == 0 and panel["width"] == width  # a phone: full-screen

    # The pre-chat form comes first: the composer waits for it; the email is required.
    form = page.get_by_role("form", name="Before we start")
    await expect(form).to_be_visible()
    await expect(page.get_by_role("textbox", name="Message")).to_be_hidden()
    await form.get_by_role("textbox", name="Your name (optional)").fill("Vera")
    await form.get_by_role("button", name="Start chat").click()  # no email: refused
    await expect(form).to_be_visible()
    await form.get_by_role("textbox", name="Your email").fill("vera@example.com")
    await screenshot(page, f"site-prechat-{width}")
    await form.get_by_role("button", name="Start chat").click()
    await expect(form).to_have_count(0)
    message = page.get_by_role("textbox", name="Message")
    await message.fill("Where is my parcel?")
    await message.press("Enter")
    welcome = page.locator(".msg.bot", has_text="Welcome to Acme.")
    await expect(welcome).to_be_visible()
    await expect(welcome).to_contain_text("Acme Support")  # signed with the site's name
    await screenshot(page, f"site-look-{width}")
    assert live.node is not None
    visitors, _ = await live.node.repos.summaries.search(status=None, assignee_id=None, limit=5)
    assert [(s.visitor_name, s.visitor_email) for s in visitors] == [("Vera", "vera@example.com")]
    await agent_ws.close()


async def test_the_sites_own_office_hours_close_its_widget(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    today = datetime.now(UTC)
    other = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][(today.weekday() + 3) % 7]
    hours = OfficeHours(timezone="UTC", days=[other], start="09:00", end="17:00")  # type: ignore[list-item]
    await configure(live, SiteConfig(office_hours=hours))
    agent = await live.agent(http)  # online, but the site is closed
    socket = await http.ws_connect(live.url + f"/ws?token={agent['token']}")
    await open_widget(page, shop)
    notice = page.locator(".notice", has_text="We're closed. We open")
    await expect(notice).to_be_visible()
    await screenshot(page, "site-closed")
    await socket.close()
