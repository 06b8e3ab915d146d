"""Away mode in Chromium: the agent clicks "Set away", the badge says so, a new visitor's
chat goes to the colleague who is available; "I'm back" takes the queue again, and the
choice survives a reload."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.browser import Opener, shot, sign_in
from tests.support.kefu import Kefu


async def test_an_agent_goes_away_and_comes_back(kefu: Kefu, browser: Opener) -> None:
    ann = await kefu.add_agent("Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    badge = page.locator("#conn-state")
    await page.get_by_role("button", name="Set away").click()
    await expect(badge).to_have_text("away")
    await expect(page.get_by_role("button", name="I'm back")).to_have_attribute(
        "aria-pressed", "true"
    )
    agent = await kefu.node.repos.agents.require(ann["id"])
    assert agent.away is True

    # Nobody available: the newcomer waits (shown in Ann's Unassigned tab), not hers.
    visitor = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    ack = await visitor.send_message("Hello?")
    record = await kefu.node.repos.conversations.get(ack["conversation_id"])
    assert record is not None and record.assignee_id is None
    await shot(page, "away")

    # The choice survives a reload; coming back takes the waiting chat.
    await page.reload()
    await expect(badge).to_have_text("away")
    await page.get_by_role("button", name="I'm back").click()
    await expect(badge).to_have_text("online")
    row = page.locator(f'#conv-list li[data-id="{ack["conversation_id"]}"]')
    await expect(row).to_be_visible()
    assigned = await visitor.expect("conversation.assigned")
    assert assigned["agent_id"] == ann["id"]
    await visitor.close()
