"""What the widget's header and banners say as a chat goes on (issue 15, bug 4): the
"Nobody is online" banner goes once an agent joins and answers, and the header stops
saying "An agent joined" when the conversation is closed; a new message starts afresh.
At 1280x800, 1366x768 and 375x812; screenshots in ``test-artifacts/``."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Locator, Page, expect

from kefu.web.shop import ShopServer
from tests.support.kefu import Socket
from tests.support.layout import SIZES
from tests.support.widget import LiveKefu, bubble, open_widget, screenshot, visitor_says


async def test_the_offline_banner_and_the_header_follow_the_conversation(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)  # exists, but nobody is signed in yet
    await page.set_viewport_size({"width": 375, "height": 812})
    await open_widget(page, shop)
    banner = page.locator(".notice", has_text="Nobody is online right now")
    status = page.locator("header .status")
    await expect(banner).to_be_visible()
    await expect(status).to_have_text("We are offline. Leave a message.")
    await visitor_says(page, "Is anyone there?")
    await expect(bubble(page, "Is anyone there?")).to_be_visible()
    await screenshot(page, "offline-375")

    # The agent signs in: the waiting conversation is theirs, and they answer.
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    assigned = await ws.expect("conversation.assigned", timeout=10)
    await expect(status).to_have_text("An agent joined")
    await expect(banner).to_have_count(0)
    await ws.send_message("Hi, I am here now.", conversation_id=assigned["conversation_id"])
    await expect(bubble(page, "Hi, I am here now.")).to_be_visible()
    await expect(banner).to_have_count(0)
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await expect(status).to_have_text("An agent joined")
        await screenshot(page, f"agent-joined-{width}")

    # Closed: the header says so (not "An agent joined"), the rating card asks.
    async with http.post(
        f"{live.url}/api/v1/conversations/{assigned['conversation_id']}/close",
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
    await expect(status).to_have_text("Conversation ended")
    await expect(page.get_by_role("form", name="Rate this conversation")).to_be_visible()
    await screenshot(page, "closed")
    # A reload keeps saying so.
    await page.reload()
    # Opening asks who is online; its answer sets the header too, so it is awaited before
    # the header's changes are recorded below.
    async with page.expect_response(lambda r: "/api/v1/availability" in r.url):
        await page.get_by_role("button", name="Open chat").click()
    await expect(status).to_have_text("Conversation ended")

    # Writing again starts a new conversation: the header is back to online, then the agent
    # joins. "Online" lasts only until the assignment arrives (milliseconds), so the header's
    # changes are recorded in the page and the sequence is checked once the state holds.
    await record_changes(status)
    await visitor_says(page, "One more question")
    fresh = await ws.expect("conversation.assigned", timeout=10)
    assert fresh["conversation_id"] != assigned["conversation_id"]
    await expect(status).to_have_text("An agent joined")
    assert await recorded(page) == ["Online", "An agent joined"]
    await expect(page.get_by_role("form", name="Rate this conversation")).to_have_count(0)
    await ws.close()


async def record_changes(locator: Locator) -> None:
    """Record every text the element is given, in order, in the page: a state that lasts a
    few milliseconds can be missed by polling, but not by a MutationObserver."""
    await locator.evaluate(
        """(node) => {
            window.__kefuChanges = [];
            new MutationObserver((records) => {
                for (const record of records)
                    for (const added of record.addedNodes)
                        window.__kefuChanges.push(added.textContent);
            }).observe(node, { childList: true });
        }"""
    )


async def recorded(page: Page) -> list[str]:
    """The texts recorded, the same text set again in a row counted once (one state)."""
    changes: list[str] = await page.evaluate("() => window.__kefuChanges")
    return [text for i, text in enumerate(changes) if i == 0 or changes[i - 1] != text]


async def test_links_in_the_widget_are_clickable_and_nothing_else_is_markup(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    agent = await live.agent(http)
    ws = Socket(await http.ws_connect(f"{live.url}/ws?token={agent['token']}"))
    await open_widget(page, shop)
    await visitor_says(page, "Where is my parcel?")
    assigned = await ws.expect("conversation.assigned", timeout=10)
    text = "Track it at https://shop.example/t/1. Not javascript:alert(1) nor <b>bold</b>"
    await ws.send_message(text, conversation_id=assigned["conversation_id"])
    message = bubble(page, "Track it at")
    await expect(message).to_contain_text(text)
    link = message.locator("a")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://shop.example/t/1")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(link).to_have_attribute("target", "_blank")
    assert await message.locator("b").count() == 0
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await screenshot(page, f"link-{width}")
    await ws.close()
