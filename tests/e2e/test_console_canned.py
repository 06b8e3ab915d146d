"""Canned-reply placeholders in Chromium: {visitor.first_name} and {agent.first_name} are
filled in as the reply is inserted (an unnamed visitor is "there"), what is unknown stays
as typed, and the visitor receives exactly the text the agent saw."""

from __future__ import annotations

from playwright.async_api import expect

from tests.conftest import Kefu
from tests.e2e import test_console as console
from tests.e2e.test_console import Opener, next_message, sign_in

store_url = console.store_url
browser = console.browser
expected_errors = console.expected_errors

GREETING = "Hi {visitor.first_name}, {agent.first_name} here ({agent.name}). {order.id}"


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
        visitor = await kefu.ws((await kefu.visitor(**fields))["token"])
        ack = await visitor.send_message("hello?")
        await page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]').click()
        await expect(page.locator("#messages")).to_contain_text("hello?")
        await composer.fill("")
        await composer.press_sequentially("/hel")
        await expect(page.locator("#canned-popup")).to_contain_text("Greeting")
        await composer.press("Enter")
        await expect(composer).to_have_value(expected)
        await composer.press("Enter")
        await next_message(visitor, expected)
        await visitor.close()
