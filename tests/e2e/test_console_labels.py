"""Labels in Chromium: an agent labels a chat from its header (typed, suggested), the
chips show in the header and the list, a supervisor's console gets them live, its
remove button drops one, and a bad label is refused on screen without changing the set."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Route, expect

from kefu.domain.roles import Role
from tests.conftest import Kefu
from tests.support.browser import Opener, shot, sign_in


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
    # The history shown: the console is done opening the chat (it no longer moves the
    # focus; test_a_late_history_leaves_the_keyboard_in_the_label_field covers that race).
    await expect(page.locator("#messages")).to_contain_text("I was charged twice")
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


async def test_a_late_history_leaves_the_keyboard_in_the_label_field(
    kefu: Kefu, browser: Opener
) -> None:
    """An agent who starts typing a label before the chat's history has arrived keeps
    typing there: the history landing must not move the focus to the reply box, where their
    Enter would send what they type next to the customer (and the label would be lost)."""
    ann = await kefu.add_agent("Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    visitor = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    conversation_id = (await visitor.send_message("I was charged twice"))["conversation_id"]
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:  # the history, held until the label is typed
        asked.set()
        await release.wait()
        await route.continue_()

    await page.route(re.compile(rf"/conversations/{conversation_id}/messages\?before=&"), hold)
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    async with asyncio.timeout(10):
        await asked.wait()
    await page.get_by_label("Add a label").click()
    await page.keyboard.type("Billing")
    release.set()
    # Rendered in the same turn as the console decides the focus: a barrier, not a delay.
    await expect(page.locator("#messages")).to_contain_text("I was charged twice")
    await page.keyboard.press("Enter")  # where the agent's keyboard is, as they would
    await expect(page.locator("#chat-labels .label-chip > span")).to_have_text(["billing"])
    await expect(page.locator("#composer-input")).to_have_value("")
    await visitor.close()


async def test_the_next_label_can_be_typed_while_the_last_one_saves(
    kefu: Kefu, browser: Opener
) -> None:
    """Enter hands the label over and empties the field at once: what the agent types
    while the save is on its way is the next label, not more of the last one."""
    ann = await kefu.add_agent("Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    visitor = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    conversation_id = (await visitor.send_message("I was charged twice"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    await expect(page.locator("#messages")).to_contain_text("I was charged twice")
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold(route: Route) -> None:  # the first save, held until the next is typed
        if not asked.is_set():
            asked.set()
            await release.wait()
        await route.continue_()

    await page.route(re.compile(rf"/conversations/{conversation_id}/labels$"), hold)
    await page.get_by_label("Add a label").click()
    await page.keyboard.type("Billing")
    await page.keyboard.press("Enter")
    async with asyncio.timeout(10):
        await asked.wait()
    await page.keyboard.type("refund")
    release.set()
    chips = page.locator("#chat-labels .label-chip > span")
    await expect(chips).to_have_text(["billing"])  # the first save is back
    await page.keyboard.press("Enter")
    await expect(chips).to_have_text(["billing", "refund"])
    await visitor.close()
