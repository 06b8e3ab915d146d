"""Private notes in Chromium: an agent switches the composer to "Private note", writes
one; it shows as a note in this console and in a supervisor's console watching the
chat, and never reaches the visitor, who gets only the reply that follows."""

from __future__ import annotations

from playwright.async_api import expect

from kefu.domain.roles import Role
from tests.support.browser import Opener, next_message, shot, sign_in
from tests.support.kefu import Kefu


async def test_a_private_note_stays_with_the_agents(kefu: Kefu, browser: Opener) -> None:
    ann = await kefu.add_agent("Ann")
    sue = await kefu.add_agent("Sue", Role.SUPERVISOR)
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    visitor = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    ack = await visitor.send_message("My parcel is late again")
    conversation_id = ack["conversation_id"]
    row = page.locator(f'#conv-list li[data-id="{conversation_id}"]')
    await row.click()  # Ann's: she was the only one online
    boss = await browser()
    await sign_in(boss, kefu, sue["email"])
    await expect(page.locator("#messages")).to_contain_text("My parcel is late again")
    await boss.get_by_role("tab", name="All").click()
    await boss.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    await expect(boss.locator("#messages")).to_contain_text("My parcel is late again")

    await page.get_by_role("radio", name="Private note").check()
    composer = page.get_by_label("Message", exact=True)
    await expect(composer).to_have_attribute("placeholder", "Private note: only agents see it")
    await composer.fill("Third late parcel: <offer> a refund")
    await composer.press("Enter")
    mine = page.locator("#messages .msg.note")
    await expect(mine).to_contain_text("Third late parcel: <offer> a refund")
    await expect(mine).to_contain_text("Private note")
    await expect(page.locator("#messages .msg.note.pending")).to_have_count(0)
    theirs = boss.locator("#messages .msg.note")
    await expect(theirs).to_contain_text("Third late parcel: <offer> a refund")
    await shot(page, "private-note")
    # The list still shows the customer's last words (never a note, nor the bot's welcome),
    # as it will after a reload.
    await expect(row).to_contain_text("My parcel is late again")
    await expect(row).not_to_contain_text("Third late parcel")

    await page.get_by_role("radio", name="Reply").check()
    await composer.fill("Sorry, Vera: a refund is on its way.")
    await composer.press("Enter")
    got = await next_message(visitor, "Sorry, Vera: a refund is on its way.")
    assert "internal" not in got["message"]
    seen = [f for f in visitor.backlog if f.get("type") == "message.new"]
    assert all("Third late parcel" not in f["message"]["body"] for f in seen)
    await expect(page.locator("#messages .msg.out:not(.note)")).to_contain_text(
        "a refund is on its way"
    )
    await visitor.close()
