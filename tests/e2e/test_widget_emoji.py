"""The visitor widget's emoji picker (issue 15 item 14), in Chromium on a shop page of
another origin at 1280x800, 1366x768 and 375x812: a button named from the catalog opens a
grid; arrow keys move, Enter inserts at the caret (not at the end), Esc closes the grid
(and only the grid), the focus goes back to the message, a click elsewhere closes it; the
agent receives the emoji as text."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from kefu.web.shop import ShopServer
from kefu.web.widget_script import CATALOGS
from tests.support.layout import SIZES
from tests.support.widget import LiveKefu, bubble, open_widget, screenshot
from tests.support.widget_chat import agent_socket, message_with, script_errors


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_the_emoji_grid_inserts_at_the_caret_by_keyboard(
    live: LiveKefu,
    shop: ShopServer,
    page: Page,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
) -> None:
    errors = script_errors(page)
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
    frame = await message_with(agent_ws, "Thanks👍 world🎉")
    assert frame["message"]["sender"]["kind"] == "visitor"
    await screenshot(page, f"emoji-sent-{width}")
    await agent_ws.close()
    assert errors == []


async def test_the_emoji_grid_speaks_chinese(
    live: LiveKefu, shop: ShopServer, chromium: Browser
) -> None:
    """A zh-CN browser at 375x812: the button, the grid and every cell are named in Chinese."""
    context = await chromium.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    page = await context.new_page()
    errors = script_errors(page)
    await page.goto(shop.url + "/")
    zh = json.loads(CATALOGS.read_text(encoding="utf-8"))["zh-CN"]
    await page.get_by_role("button", name=zh["open_chat"]).click()
    await page.get_by_role("button", name=zh["emoji"], exact=True).click()
    grid = page.get_by_role("grid", name=zh["emoji_grid"])
    await expect(grid).to_be_visible()
    await expect(grid.get_by_role("gridcell", name=zh["emoji_grin"])).to_be_focused()
    names = await grid.get_by_role("gridcell").evaluate_all(
        "(cells) => cells.map((c) => c.getAttribute('aria-label'))"
    )
    assert len(names) == 30 and all(re.search(r"[\u4e00-\u9fff]", n) for n in names), names
    await screenshot(page, "emoji-grid-zh-375")
    await context.close()
    assert errors == []
