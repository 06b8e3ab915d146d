"""Labels in Chromium: an agent labels a chat from its header (typed, suggested), the
chips show in the header and the list, a supervisor's console gets them live, its
remove button drops one, and a bad label is refused on screen without changing the set."""

from __future__ import annotations

import re

from playwright.async_api import expect

from kefu.domain.roles import Role
from tests.conftest import Kefu
from tests.e2e import test_console as console
from tests.e2e.test_console import Opener, shot, sign_in

store_url = console.store_url
browser = console.browser
expected_errors = console.expected_errors


async def test_an_agent_labels_a_chat(
    kefu: Kefu, browser: Opener, expected_errors: list[re.Pattern[str]]
) -> None:
    expected_errors.append(re.compile(r"status of 400 .*/labels"))  # the refused label
    ann = await kefu.add_agent("Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    visitor = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    ack = await visitor.send_message("I was charged twice")
    conversation_id = ack["conversation_id"]
    sue = await kefu.add_agent("Sue", Role.SUPERVISOR)
    boss = await browser()
    await sign_in(boss, kefu, sue["email"])
    await boss.get_by_role("tab", name="All").click()
    boss_row = boss.locator(f'#conv-list li[data-id="{conversation_id}"]')
    await expect(boss_row).to_be_visible()

    row = page.locator(f'#conv-list li[data-id="{conversation_id}"]')
    await row.click()
    field = page.get_by_label("Add a label")
    for label in ("Billing", "refund"):
        await field.fill(label)
        await field.press("Enter")
    chips = page.locator("#chat-labels .label-chip > span")
    await expect(chips).to_have_text(["billing", "refund"])
    await expect(row.locator(".label-chip")).to_have_text(["billing", "refund"])
    await expect(boss_row.locator(".label-chip")).to_have_text(["billing", "refund"])

    await page.get_by_label("Add a label").fill("not ok!")
    await page.get_by_label("Add a label").press("Enter")
    await expect(page.locator("#chat-labels .label-error")).to_contain_text("label")
    await shot(page, "labels")
    await page.get_by_role("button", name="Remove label billing").click()
    await expect(chips).to_have_text(["refund"])
    await expect(boss_row.locator(".label-chip")).to_have_text(["refund"])
    summary = await kefu.node.repos.summaries.get(conversation_id)
    assert summary is not None and summary.labels == ("refund",)
    await visitor.close()
