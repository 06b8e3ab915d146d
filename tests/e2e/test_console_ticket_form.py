"""'Create ticket' from a chat opens a side form and keeps the agent in the chat (issue 15
item 13): subject and transcript (no bot lines) shown, priority and assignee prefilled and
changeable, the ticket made without leaving the conversation. At 1280x800, 1366x768 and
375x812; screenshots in ``test-artifacts/``."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.support.browser import Opener, agent, shot, sign_in
from tests.support.kefu import Kefu
from tests.support.layout import SIZES, off_screen


async def test_create_ticket_opens_a_side_form_and_keeps_the_chat(
    kefu: Kefu, browser: Opener
) -> None:
    ann = await agent(kefu, "Ann")
    bob = await agent(kefu, "Bob")
    page = await browser(1280, 800)
    await sign_in(page, kefu, ann["email"])
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        if width < 720 and await page.get_by_role("button", name="Back to the list").is_visible():
            await page.get_by_role("button", name="Back to the list").click()
        socket = await kefu.ws((await kefu.visitor(name=f"Vera {width}"))["token"])
        conversation_id = (await socket.send_message("My parcel never arrived."))["conversation_id"]
        await socket.send_message("It was due last Tuesday.")
        await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
        await expect(page.locator("#messages")).to_contain_text("It was due last Tuesday.")
        await page.get_by_role("button", name="Create ticket").click()
        side = page.locator("#tk-side")
        await expect(side).to_be_visible()
        await expect(side.get_by_label("Subject")).to_have_value("My parcel never arrived.")
        transcript = side.locator("#tk-side-transcript")
        await expect(transcript).to_contain_text("It was due last Tuesday.")
        await expect(transcript).not_to_contain_text("Thanks for reaching out")  # the bot's
        await expect(side.get_by_label("Priority")).to_have_value("normal")
        await expect(side.get_by_label("Assignee")).to_have_value(ann["id"])
        assert await off_screen(page, "#tk-side button, #tk-side select") == []
        await shot(page, f"ticket-form-{width}")
        await side.get_by_label("Priority").select_option("high")
        await side.get_by_label("Assignee").select_option(bob["id"])
        await side.get_by_label("Subject").fill(f"Late parcel ({width})")  # editable
        await side.get_by_role("button", name="Create the ticket").click()
        await expect(
            side.get_by_role("button", name=re.compile(r"^Open ticket #\d+$"))
        ).to_be_visible()
        # Still in the chat.
        await expect(page.locator("#page-inbox")).to_be_visible()
        await expect(page.get_by_label("Message", exact=True)).to_be_enabled()
        status, listed = await kefu.get("/api/v1/tickets", ann["token"])
        assert status == 200
        ticket = next(t for t in listed["items"] if t.get("conversation_id") == conversation_id)
        assert ticket["priority"] == "high" and ticket["assignee_id"] == bob["id"]
        assert ticket["subject"] == f"Late parcel ({width})"
        assert "Thanks for reaching out" not in ticket["body"]  # no bot lines stored
        await shot(page, f"ticket-made-{width}")
        if width < 720:
            await page.keyboard.press("Escape")
        if await side.is_visible():
            await side.get_by_role("button", name="Done").click()
        await socket.close()
