"""The pre-chat form's required fields in the visitor widget (issue 15), in Chromium on a
shop page of another origin at 1280x800, 1366x768 and 375x812, with the server enforcing
them: the admin requires a name after the visitor's conversation closed (the socket refuses
the new conversation) or after the page loaded (REST refuses the session): the form comes
back, the refused words wait in the composer, and once a name is given the message
arrives with it. Nobody online and a name required: the offline form asks for the name,
and the message and the visitor are stored with it."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Page, expect

from kefu.chat.sites import Prechat, SiteConfig
from kefu.web.shop import ShopServer
from tests.support.layout import SIZES
from tests.support.widget import LiveKefu, bubble, open_widget, screenshot, visitor_says
from tests.support.widget_chat import agent_socket, configure, message_with, script_errors

NAME_REQUIRED = SiteConfig(prechat=Prechat(name="required"))


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_a_server_side_prechat_refusal_brings_the_form_back(
    live: LiveKefu,
    shop: ShopServer,
    page: Page,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
) -> None:
    errors = script_errors(page)
    agent, agent_ws = await agent_socket(live, http)
    await page.set_viewport_size({"width": width, "height": height})
    await open_widget(page, shop)  # the site asks for nothing yet

    # Over the socket: the visitor chatted, the chat closed, then the admin required a
    # name; writing again would open a new conversation, which the server refuses.
    await visitor_says(page, "First question")
    first = await message_with(agent_ws, "First question")
    status = 0
    async with http.post(
        live.url + f"/api/v1/conversations/{first['message']['conversation_id']}/close",  # type: ignore[index]
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        status = resp.status
    assert status == 200
    await expect(page.get_by_role("form", name="Rate this conversation")).to_be_visible()
    await configure(live, NAME_REQUIRED)
    await visitor_says(page, "One more thing")
    form = page.get_by_role("form", name="Before we start")
    await expect(form).to_be_visible()
    await expect(
        page.get_by_role("alert").filter(has_text="Please fill in the form first")
    ).to_be_visible()
    await expect(bubble(page, "One more thing")).to_have_count(0)
    await screenshot(page, f"prechat-refused-{width}")
    await form.get_by_role("textbox", name="Your name").fill("Vera")
    await form.get_by_role("button", name="Start chat").click()
    message = page.get_by_role("textbox", name="Message")
    await expect(message).to_have_value("One more thing")  # the refused words wait
    await message.press("Enter")
    again = await message_with(agent_ws, "One more thing")
    assert again["message"]["sender"]["name"] == "Vera"  # type: ignore[index]
    await expect(page.get_by_role("alert").filter(has_text="Please fill in")).to_have_count(0)
    await agent_ws.close()
    assert errors == []


async def test_a_form_required_after_the_page_loaded_is_asked_before_the_session(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    """Over REST: the page loaded while the site asked nothing; the first message's
    session is refused 422, and the form is asked before anything is sent."""
    errors = script_errors(page)
    _, agent_ws = await agent_socket(live, http)
    await open_widget(page, shop)
    await configure(live, NAME_REQUIRED)
    await visitor_says(page, "Hello there")
    form = page.get_by_role("form", name="Before we start")
    await expect(form).to_be_visible()
    await form.get_by_role("textbox", name="Your name").fill("Ming")
    await form.get_by_role("button", name="Start chat").click()
    message = page.get_by_role("textbox", name="Message")
    await expect(message).to_have_value("Hello there")
    await message.press("Enter")
    frame = await message_with(agent_ws, "Hello there")
    assert frame["message"]["sender"]["name"] == "Ming"  # type: ignore[index]
    await agent_ws.close()
    assert errors == []


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_nobody_online_the_offline_form_asks_the_required_name(
    live: LiveKefu, shop: ShopServer, page: Page, width: int, height: int
) -> None:
    errors = script_errors(page)
    await configure(live, SiteConfig(prechat=Prechat(name="required", email="optional")))
    await page.set_viewport_size({"width": width, "height": height})
    await open_widget(page, shop)
    await expect(page.get_by_role("form", name="Before we start")).to_be_visible()
    await page.get_by_role("button", name="Leave a message").click()
    form = page.get_by_role("form", name="Leave a message")
    await form.get_by_role("textbox", name="Your email").fill("mei@example.com")
    await form.get_by_role("textbox", name="Your message").fill("Do you ship to Hangzhou?")
    await form.get_by_role("button", name="Send message").click()  # no name: the browser asks
    await expect(form).to_be_visible()
    await form.get_by_role("textbox", name="Your name").fill("Mei")
    await screenshot(page, f"prechat-offline-{width}")
    await form.get_by_role("button", name="Send message").click()
    await expect(page.locator(".notice", has_text="We will answer by email")).to_be_visible()
    # Who is writing is known: the pre-chat form is gone, the composer is back.
    await expect(page.get_by_role("form", name="Before we start")).to_have_count(0)
    await expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    assert live.node is not None
    stored = await live.node.repos.offline.list(limit=5)
    assert [(m.name, m.email, m.body) for m in stored] == [
        ("Mei", "mei@example.com", "Do you ship to Hangzhou?")
    ]
    visitor = await live.node.repos.visitors.get(stored[0].visitor_id)
    assert visitor is not None and (visitor.name, visitor.email) == ("Mei", "mei@example.com")
    assert errors == []
