"""Canned-reply placeholders in Chromium: {visitor.first_name} and {agent.first_name} are
filled in as the reply is inserted (an unnamed visitor is "there"), what is unknown stays
as typed, and the visitor receives exactly the text the agent saw."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.support.browser import Opener, next_message, sign_in
from tests.support.kefu import Kefu, Socket

GREETING = "Hi {visitor.first_name}, {agent.first_name} here ({agent.name}). {order.id}"


async def open_with(page: Page, kefu: Kefu, first_words: str, **fields: Any) -> Socket:
    """A visitor writes ``first_words``; the agent opens that conversation and the reply
    box is ready (its history shown, the box enabled and focused)."""
    visitor = await kefu.ws((await kefu.visitor(**fields))["token"])
    ack = await visitor.send_message(first_words)
    item = page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]')
    await item.click()
    await expect(item).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#messages")).to_contain_text(first_words)
    composer = page.get_by_label("Message", exact=True)
    await expect(composer).to_be_enabled()
    await expect(composer).to_be_focused()
    return visitor


async def pick(page: Page, typed: str, title: str) -> None:
    """Type ``typed`` in the empty reply box and insert the canned reply ``title`` once its
    option shows (a hidden popup still holds the last list: visibility is the state)."""
    composer = page.get_by_label("Message", exact=True)
    await composer.fill("")
    await composer.press_sequentially(typed)
    await expect(composer).to_have_value(typed)
    await expect(page.locator("#canned-popup [role=option]", has_text=title)).to_be_visible()
    await composer.press("Enter")


async def test_placeholders_are_filled_as_a_reply_is_inserted(kefu: Kefu, browser: Opener) -> None:
    await kefu.node.repos.canned.create(
        shortcut="hello", title="Greeting", body=GREETING, now=kefu.node.clock.now()
    )
    alice = await kefu.add_agent("Alice Smith")
    page = await browser()
    await sign_in(page, kefu, alice["email"])
    composer = page.get_by_label("Message", exact=True)
    for name, expected in (
        ("Vera Lynn", "Hi Vera, Alice here (Alice Smith). {order.id}"),
        (None, "Hi there, Alice here (Alice Smith). {order.id}"),
    ):
        fields = {"name": name} if name else {}
        # Words of each visitor's own: the previous conversation's history must not pass
        # for this one's.
        visitor = await open_with(page, kefu, f"hello? ({name or 'no name'})", **fields)
        await pick(page, "/hel", "Greeting")
        await expect(composer).to_have_value(expected)
        await composer.press("Enter")
        await next_message(visitor, expected)
        await visitor.close()


async def test_the_popup_stays_when_the_agent_is_back_in_the_box(
    kefu: Kefu, browser: Opener
) -> None:
    """Leaving the box closes the popup a moment later; an agent back in the box by then,
    typing "/", keeps it, and Enter inserts the reply instead of sending "/hel".

    The page's clock is held while the agent leaves and comes back, then run past the
    moment: the order is fixed, whatever the machine's load."""
    await kefu.node.repos.canned.create(
        shortcut="hello",
        title="Greeting",
        body="Hi {visitor.first_name}!",
        now=kefu.node.clock.now(),
    )
    alice = await kefu.add_agent("Alice")
    page = await browser()
    await page.clock.install()
    await sign_in(page, kefu, alice["email"])
    visitor = await open_with(page, kefu, "anyone there?", name="Vera")
    composer = page.get_by_label("Message", exact=True)
    now = await page.evaluate("Date.now()")
    await page.clock.pause_at(now + 1000)
    await page.locator("#chat-name").click()  # out of the box ...
    await expect(composer).not_to_be_focused()
    await composer.click()  # ... and back, typing "/" before the moment is over
    await composer.press_sequentially("/hel")
    option = page.locator("#canned-popup [role=option]", has_text="Greeting")
    await expect(option).to_be_visible()
    await page.clock.run_for(1000)  # the moment passes: the blur's close is due
    await expect(option).to_be_visible()
    await composer.press("Enter")
    await expect(composer).to_have_value("Hi Vera!")
    await composer.press("Enter")
    await next_message(visitor, "Hi Vera!")
    await visitor.close()
