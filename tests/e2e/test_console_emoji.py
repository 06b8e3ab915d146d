"""The composer's emoji picker in Chromium (issue 15 item 14), at 1280x800, 1366x768 and
375x812: opened by its button, moved through with the arrow keys, Enter inserts at the
caret (not at the end), Esc closes it and the focus goes back to the reply; the visitor
gets the emoji as text."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser import Opener, agent, next_message, shot, sign_in
from tests.support.kefu import Kefu


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1366, 768), (375, 812)])
async def test_the_emoji_grid_inserts_at_the_caret_by_keyboard(
    kefu: Kefu, browser: Opener, width: int, height: int
) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser(width=width, height=height)
    await sign_in(page, kefu, ann["email"])
    vera = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    ack = await vera.send_message("hello?")
    await page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]').click()
    box = page.locator("#composer-input")
    await box.fill("Thanks world")
    await box.evaluate("(node) => node.setSelectionRange(6, 6)")  # after "Thanks"

    button = page.get_by_role("button", name="Emoji", exact=True)
    await button.click()
    grid = page.get_by_role("grid")
    await expect(grid).to_be_visible()
    await expect(button).to_have_attribute("aria-expanded", "true")
    await expect(grid.get_by_role("gridcell", name="Grinning face")).to_be_focused()
    await page.keyboard.press("ArrowDown")  # the second row: thinking, cry, wow, thanks, 👍
    for _ in range(4):
        await page.keyboard.press("ArrowRight")
    await expect(grid.get_by_role("gridcell", name="Thumbs up")).to_be_focused()
    await shot(page, f"emoji-grid-{width}")
    await page.keyboard.press("Enter")
    await expect(grid).to_be_hidden()
    await expect(box).to_be_focused()
    await expect(box).to_have_value("Thanks👍 world")

    await button.click()
    await expect(grid).to_be_visible()
    await page.keyboard.press("End")
    await expect(grid.get_by_role("gridcell", name="Idea")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(grid).to_be_hidden()
    await expect(box).to_have_value("Thanks👍 world")  # Esc inserted nothing
    await expect(box).to_be_focused()

    await box.press("Enter")
    frame = await next_message(vera, "Thanks👍 world")
    assert frame["message"]["sender"]["kind"] == "agent"
    await vera.close()
