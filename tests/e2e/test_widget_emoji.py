"""The visitor widget's emoji picker and its answer to a server-side pre-chat refusal
(issue 15), in Chromium on a shop page of another origin at 1280x800, 1366x768 and
375x812.

Emoji: a button named from the catalog opens a grid; arrow keys move, Enter inserts at the
caret (not at the end), Esc closes the grid (and only the grid), the focus goes back to the
message; the agent receives the emoji as text. Pre-chat: the admin requires a name after
the page loaded (REST refuses the session) or after the visitor's conversation closed (the
socket refuses the new conversation): the form comes back, the refused words wait in the
composer, and once a name is given the message arrives, stored with the name."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Page, expect

from kefu.chat.sites import Prechat, SiteConfig
from kefu.web.shop import SITE_ID, ShopServer
from tests.support.kefu import Socket
from tests.support.layout import SIZES
from tests.support.widget import LiveKefu, bubble, open_widget, screenshot, visitor_says


async def agent_socket(
    live: LiveKefu, http: aiohttp.ClientSession
) -> tuple[dict[str, str], Socket]:
    agent = await live.agent(http)
    return agent, Socket(await http.ws_connect(live.url + f"/ws?token={agent['token']}"))


async def require_name(live: LiveKefu) -> None:
    assert live.node is not None
    sites = live.node.chat.greetings.sites
    assert sites is not None
    await sites.save(SITE_ID, SiteConfig(prechat=Prechat(name="required")), live.node.clock.now())


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_the_emoji_grid_inserts_at_the_caret_by_keyboard(
    live: LiveKefu,
    shop: ShopServer,
    page: Page,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
) -> None:
    errors = watch_errors(page)
    _, agent_ws = await agent_socket(live, http)
    await page.set_viewport_size({"width": width, "height": height})
    await open_widget(page, shop)
    box = page.get_by_role("textbox", name="Message")
    await box.fill("Thanks world")
    await box.evaluate("(node) => node.setSelectionRange(6, 6)")  # after "Thanks"

    button = page.get_by_role("button", name="Emoji", exact=True)
    await expect(button).to_have_attribute("aria-expanded", "false")
    await button.click()
    grid = page.get_by_role("grid", name="Emoji: arrow keys to move, Enter to insert, Esc to close")
    await expect(grid).to_be_visible()
    await expect(button).to_have_attribute("aria-expanded", "true")
    await expect(grid.get_by_role("gridcell", name="Grinning face")).to_be_focused()
    await page.keyboard.press("ArrowDown")  # the second row: thinking, cry, wow, thanks, 👍
    for _ in range(4):
        await page.keyboard.press("ArrowRight")
    await expect(grid.get_by_role("gridcell", name="Thumbs up")).to_be_focused()
    # The grid lies inside the viewport (a phone's panel is the whole screen).
    area = await grid.bounding_box()
    assert area is not None
    assert area["x"] >= 0 and area["y"] >= 0 and area["x"] + area["width"] <= width
    await screenshot(page, f"emoji-grid-{width}")
    await page.keyboard.press("Enter")
    await expect(grid).to_be_hidden()
    await expect(box).to_be_focused()
    await expect(box).to_have_value("Thanks👍 world")

    await button.click()
    await page.keyboard.press("End")
    await expect(grid.get_by_role("gridcell", name="Idea")).to_be_focused()
    await page.keyboard.press("Escape")  # the grid closes, the chat stays open
    await expect(grid).to_be_hidden()
    await expect(page.get_by_role("dialog")).to_be_visible()
    await expect(box).to_have_value("Thanks👍 world")
    await expect(box).to_be_focused()
    # A click elsewhere closes it too, inserting nothing.
    await button.click()
    await expect(grid).to_be_visible()
    await page.locator("[data-kefu-widget] .log").click()
    await expect(grid).to_be_hidden()

    # A mouse click on a cell inserts where the caret is: at the end here.
    await box.evaluate("(node) => node.setSelectionRange(node.value.length, node.value.length)")
    await button.click()
    await grid.get_by_role("gridcell", name="Party").click()
    await expect(box).to_have_value("Thanks👍 world🎉")
    await box.press("Enter")
    await expect(bubble(page, "Thanks👍 world🎉")).to_be_visible()
    frame = await agent_socket_message(agent_ws, "Thanks👍 world🎉")
    assert frame["message"]["sender"]["kind"] == "visitor"
    await screenshot(page, f"emoji-sent-{width}")
    await agent_ws.close()
    assert errors == []


async def agent_socket_message(ws: Socket, body: str) -> dict[str, object]:
    while True:
        frame = await ws.expect("message.new")
        if frame["message"]["body"] == body:
            return frame


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_a_server_side_prechat_refusal_brings_the_form_back(
    live: LiveKefu,
    shop: ShopServer,
    page: Page,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
) -> None:
    errors = watch_errors(page)
    agent, agent_ws = await agent_socket(live, http)
    await page.set_viewport_size({"width": width, "height": height})
    await open_widget(page, shop)  # the site asks for nothing yet

    # Over the socket: the visitor chatted, the chat closed, then the admin required a
    # name; writing again would open a new conversation, which the server refuses.
    await visitor_says(page, "First question")
    first = await agent_socket_message(agent_ws, "First question")
    status = 0
    async with http.post(
        live.url + f"/api/v1/conversations/{first['message']['conversation_id']}/close",  # type: ignore[index]
        headers={"Authorization": f"Bearer {agent['token']}"},
    ) as resp:
        status = resp.status
    assert status == 200
    await expect(page.get_by_role("form", name="Rate this conversation")).to_be_visible()
    await require_name(live)
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
    again = await agent_socket_message(agent_ws, "One more thing")
    assert again["message"]["sender"]["name"] == "Vera"  # type: ignore[index]
    await expect(page.get_by_role("alert").filter(has_text="Please fill in")).to_have_count(0)
    await agent_ws.close()
    assert errors == []


async def test_a_form_required_after_the_page_loaded_is_asked_before_the_session(
    live: LiveKefu, shop: ShopServer, page: Page, http: aiohttp.ClientSession
) -> None:
    """Over REST: the page loaded while the site asked nothing; the first message's
    session is refused 422, and the form is asked before anything is sent."""
    errors = watch_errors(page)
    _, agent_ws = await agent_socket(live, http)
    await open_widget(page, shop)
    await require_name(live)
    await visitor_says(page, "Hello there")
    form = page.get_by_role("form", name="Before we start")
    await expect(form).to_be_visible()
    await form.get_by_role("textbox", name="Your name").fill("Ming")
    await form.get_by_role("button", name="Start chat").click()
    message = page.get_by_role("textbox", name="Message")
    await expect(message).to_have_value("Hello there")
    await message.press("Enter")
    frame = await agent_socket_message(agent_ws, "Hello there")
    assert frame["message"]["sender"]["name"] == "Ming"  # type: ignore[index]
    await agent_ws.close()
    assert errors == []
