"""Finding any conversation and knowing the customer, in Chromium (issue 15 items 10, 11):
the Closed tab, a search box over message text, names and emails (Chinese substrings
too), filters by label and customer key, Reopen, the conversation's title (the 360's name
for a customer key, shown, never stored) in the list and the header, and "Previous
conversations" in the right panel, read-only in a dialog. At 1280x800, 1366x768 and
375x812; screenshots in ``test-artifacts/``."""

from __future__ import annotations

from playwright.async_api import Page, expect

from kefu.domain.roles import Role
from tests.support import console_360
from tests.support.browser import Opener, shot, sign_in
from tests.support.console_360 import visitor
from tests.support.kefu import Kefu
from tests.support.layout import SIZES, off_screen

systems = console_360.systems
callcenter_behaviour = console_360.callcenter_behaviour
settings = console_360.settings


def _row(page: Page, conversation_id: str) -> object:
    return page.locator(f'#conv-list li[data-id="{conversation_id}"]')


async def test_search_filters_closed_tab_and_reopen(kefu: Kefu, browser: Opener) -> None:
    sue = await kefu.add_agent("Sue Park", Role.SUPERVISOR)
    page = await browser(1280, 800)
    await sign_in(page, kefu, sue["email"])
    wang = await kefu.ws((await kefu.visitor(name="王小明", email="wang@example.com"))["token"])
    wang_id = (await wang.send_message("我要申请退款 订单还没到"))["conversation_id"]
    eli = await kefu.ws((await kefu.visitor(name="Eli Brooks", email="eli@example.com"))["token"])
    eli_id = (await eli.send_message("Do you ship to Canada?"))["conversation_id"]
    status, _ = await kefu.put(
        f"/api/v1/conversations/{eli_id}/labels", sue["token"], {"labels": ["shipping"]}
    )
    assert status == 200
    assert (await kefu.post(f"/api/v1/conversations/{wang_id}/close", sue["token"]))[0] == 200
    await expect(_row(page, eli_id)).to_be_visible()
    await expect(_row(page, wang_id)).to_have_count(0)  # closed ones leave the live tabs

    q = page.get_by_label("Search conversations")
    label = page.get_by_label("Filter by label")
    customer = page.get_by_label("Filter by customer")
    # Words, an email's start, a label: in the open tab.
    await q.fill("canada")
    await expect(page.locator("#conv-list li")).to_have_count(1)
    await expect(_row(page, eli_id)).to_be_visible()
    await q.fill("eli@exam")
    await expect(_row(page, eli_id)).to_be_visible()
    await q.fill("refund")
    await expect(page.locator("#conv-list li")).to_have_count(0)
    await expect(page.locator("#conv-empty")).to_have_text("No conversations match.")
    await q.fill("")
    await label.fill("shipping")
    await expect(page.locator("#conv-list li")).to_have_count(1)
    await expect(_row(page, eli_id)).to_contain_text("shipping")
    await label.fill("billing")
    await expect(page.locator("#conv-list li")).to_have_count(0)
    await label.fill("")
    await expect(_row(page, eli_id)).to_be_visible()

    # The Closed tab; a Chinese substring finds the closed conversation.
    await page.get_by_role("tab", name="Closed").click()
    await expect(_row(page, wang_id)).to_contain_text("closed")
    await expect(_row(page, eli_id)).to_have_count(0)
    await q.fill("退款")
    await expect(page.locator("#conv-list li")).to_have_count(1)
    await expect(_row(page, wang_id)).to_contain_text("王小明")
    await q.fill("加拿大")
    await expect(page.locator("#conv-list li")).to_have_count(0)
    await q.fill("退款")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        if width < 720 and await page.get_by_role("button", name="Back to the list").is_visible():
            await page.get_by_role("button", name="Back to the list").click()
        await expect(_row(page, wang_id)).to_be_visible()
        assert await off_screen(page, "#conv-search input, .tabs [role=tab]") == []
        await shot(page, f"find-closed-{width}")
    await customer.fill("C1001")
    await expect(page.locator("#conv-list li")).to_have_count(0)
    await customer.fill("")

    # Reopen: the closed conversation is live again, with its history, and can be answered.
    await page.set_viewport_size({"width": 1280, "height": 800})
    await _row(page, wang_id).click()
    await expect(page.locator("#messages")).to_contain_text("我要申请退款")
    composer = page.get_by_label("Message", exact=True)
    await expect(composer).to_be_disabled()
    await page.get_by_role("button", name="Reopen").click()
    await expect(page.get_by_role("button", name="Reopen")).to_be_hidden()
    await expect(page.locator("#messages")).to_contain_text("Conversation reopened.")
    await wang.expect("conversation.reopened", timeout=10)
    await expect(composer).to_be_enabled()
    await shot(page, "reopened")
    await q.fill("")
    await page.get_by_role("tab", name="All").click()
    await expect(_row(page, wang_id)).to_be_visible()
    await wang.close()
    await eli.close()


async def test_titles_from_the_360_and_previous_conversations(kefu: Kefu, browser: Opener) -> None:
    bo = await kefu.add_agent("Bo")
    page = await browser(1280, 800)
    await sign_in(page, kefu, bo["email"])
    # A signed-in customer without a name: the server's title is the key; the console
    # shows the 360's name.
    li = await visitor(kefu, external_id="C1001")
    first = (await li.send_message("Where is order SO-100251?"))["conversation_id"]
    assert (await kefu.post(f"/api/v1/conversations/{first}/close", bo["token"]))[0] == 200
    second = (await li.send_message("Hello again"))["conversation_id"]
    assert second != first
    (_, item) = await kefu.get(f"/api/v1/conversations/{second}", bo["token"])
    assert item["title"] == "C1001" and item["customer_key"] == "C1001"

    await _row(page, second).click()
    # The profile is the CRM's part (orders may be late on a loaded machine).
    await expect(page.locator("#customer-360 .c360-name")).to_have_text("Li Wei")
    await expect(page.locator("#chat-name")).to_have_text("Li Wei")
    await expect(_row(page, second).locator(".conv-name")).to_have_text("Li Wei")
    # The visitor card's Name is the 360's name, never the key.
    await expect(page.locator("#visitor-details")).to_contain_text("NameLi Wei")
    # Never stored: the server still says the key.
    (_, item) = await kefu.get(f"/api/v1/conversations/{second}", bo["token"])
    assert item["title"] == "C1001"

    previous = page.locator("#previous")
    await expect(previous.locator(".previous-item")).to_have_count(1)
    await expect(previous.locator(".previous-item")).to_contain_text("closed")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        if width < 720:
            await page.get_by_role("button", name="Visitor details").click()
        await previous.scroll_into_view_if_needed()
        await expect(previous).to_be_in_viewport()
        await shot(page, f"previous-{width}")
        await previous.locator(".previous-item").click()
        dialog = page.get_by_role("dialog", name="Li Wei")
        await expect(dialog).to_be_visible()
        asked = dialog.locator(".msg.visitor .msg-text")
        await expect(asked).to_have_text("Where is order SO-100251?")
        await expect(dialog.locator("textarea, input")).to_have_count(0)  # read-only
        assert await off_screen(page, "#transcript") == []
        await shot(page, f"transcript-{width}")
        await dialog.get_by_role("button", name="Close").click()
        await expect(dialog).to_be_hidden()
        # Still in the chat the agent was in.
        await expect(page.locator("#chat-name")).to_have_text("Li Wei")
        await expect(page.locator("#messages")).to_contain_text("Hello again")
        if width < 720:
            await page.keyboard.press("Escape")
    await li.close()
