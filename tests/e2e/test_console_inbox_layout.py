"""The inbox's layout at 1280x800, 1366x768 and 375x812 (issue 15, bugs 1-3): the chat
header keeps the visitor's name and status whole beside a supervisor's actions and a
conversation's labels; on a phone the visitor drawer closes (its close button, Esc, a tap outside)
and the bottom bar fits with every page reachable.

Screenshots go to ``test-artifacts/`` (gitignored) for a human look.
"""

from __future__ import annotations

from playwright.async_api import Page, expect

from kefu.domain.roles import Role
from tests.support.browser import Opener, agent, shot, sign_in
from tests.support.kefu import Kefu
from tests.support.layout import SIZES, boxes, cut, off_screen, overlapping

HEADER_PARTS = (".chat-lead", ".chat-title", "#chat-labels", ".chat-actions")


async def _header_fits(page: Page, label: str) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    found = await boxes(page, *HEADER_PARTS)
    assert {b["s"] for b in found} >= {".chat-title", ".chat-actions"}, (label, found)
    assert overlapping(found) == [], (label, found)
    assert await cut(page, "#chat-name, #chat-sub") == [], label
    controls = ".chat-head button, .chat-head select, .chat-head input"
    assert await off_screen(page, controls) == [], label
    assert await cut(page, "#conv-list .conv-name") == [], label
    for part in found:
        assert part["left"] >= 0 and part["right"] <= width + 0.5, (label, part)


async def test_the_chat_header_fits_a_supervisors_actions_and_labels(
    kefu: Kefu, browser: Opener
) -> None:
    boss = await agent(kefu, "Sam Carter", Role.SUPERVISOR)
    max_ = await agent(kefu, "Maximilian Okonkwo-Fitzgerald")
    # Both away: the conversation waits, so the supervisor sees Take beside everything else.
    page = await browser(1280, 800)
    await sign_in(page, kefu, boss["email"])
    for who in (boss, max_):
        assert (await kefu.patch("/api/v1/auth/me", who["token"], {"away": True}))[0] == 200
    visitor = await kefu.visitor(name="Valentina Rossi", email="valentina.rossi@example.com")
    vera = await kefu.ws(visitor["token"])
    conversation_id = (await vera.send_message("My parcel never arrived"))["conversation_id"]
    labels = ["shipping", "complaint", "vip-customer"]
    status, _ = await kefu.put(
        f"/api/v1/conversations/{conversation_id}/labels", boss["token"], {"labels": labels}
    )
    assert status == 200

    await page.get_by_role("tab", name="Unassigned").click()
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    await expect(page.locator("#claim-btn")).to_be_visible()
    await expect(page.locator("#chat-labels .label-chip")).to_have_count(3)
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await expect(page.locator("#chat-name")).to_have_text("Valentina Rossi")
        await _header_fits(page, f"waiting {width}")
        await shot(page, f"header-waiting-{width}")

    # Assigned to an agent with a long name: "assigned to …" stays whole too.
    status, _ = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/transfer", boss["token"], {"agent_id": max_["id"]}
    )
    assert status == 200
    await expect(page.locator("#chat-sub")).to_contain_text("Maximilian Okonkwo-Fitzgerald")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await expect(page.locator("#claim-btn")).to_be_hidden()
        await _header_fits(page, f"assigned {width}")
        await shot(page, f"header-assigned-{width}")
    await vera.close()


async def test_the_visitor_drawer_closes_by_its_button_esc_and_a_tap_outside(
    kefu: Kefu, browser: Opener
) -> None:
    ann = await agent(kefu, "Ann")
    page = await browser(375, 812)
    await sign_in(page, kefu, ann["email"])
    visitor = await kefu.visitor(name="Pia Lang", email="pia@example.com")
    pia = await kefu.ws(visitor["token"])
    conversation_id = (await pia.send_message("Hello from my phone"))["conversation_id"]
    row = page.locator(f'#conv-list li[data-id="{conversation_id}"]')
    await row.click()
    drawer = page.locator("#details")
    info = page.get_by_role("button", name="Visitor details")
    close = page.get_by_role("button", name="Close visitor details")
    await expect(drawer).to_be_hidden()

    await info.click()
    await expect(drawer).to_be_visible()
    await expect(drawer).to_contain_text("pia@example.com")
    await expect(close).to_be_visible()
    assert await off_screen(page, "#details-close") == []
    await shot(page, "drawer-phone")
    await close.click()
    await expect(drawer).to_be_hidden()
    await expect(info).to_be_focused()
    await expect(info).to_have_attribute("aria-expanded", "false")

    await info.click()
    await expect(drawer).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(drawer).to_be_hidden()

    await info.click()
    await expect(drawer).to_be_visible()
    await page.mouse.click(12, 400)  # the strip of chat left beside the drawer
    await expect(drawer).to_be_hidden()
    await expect(page.locator("#messages")).to_contain_text("Hello from my phone")

    # Back to the list: the list, and the drawer does not come back over it or the next chat.
    await page.get_by_role("button", name="Back to the list").click()
    await expect(row).to_be_visible()
    await expect(drawer).to_be_hidden()
    await row.click()
    await expect(page.locator("#messages")).to_contain_text("Hello from my phone")
    await expect(drawer).to_be_hidden()

    # Wide screens: the panel is a column that the same button hides and shows.
    for width, height in SIZES[:2]:
        await page.set_viewport_size({"width": width, "height": height})
        await row.click()
        await expect(drawer).to_be_visible()
        await expect(close).to_be_hidden()
        await info.click()
        await expect(drawer).to_be_hidden()
        await expect(info).to_have_attribute("aria-expanded", "false")
        await info.click()
        await expect(drawer).to_be_visible()
        await expect(info).to_have_attribute("aria-expanded", "true")
        assert overlapping(await boxes(page, ".chat-pane", "#details", ".list-pane")) == []
    await pia.close()


async def test_an_admins_bottom_bar_fits_a_phone_and_more_holds_the_rest(
    kefu: Kefu, browser: Opener
) -> None:
    root = await agent(kefu, "Root", Role.ADMIN)
    page = await browser(375, 812)
    await sign_in(page, kefu, root["email"])
    bar = ".rail .rail-btn"
    assert await off_screen(page, bar) == []
    widths = await page.eval_on_selector_all(
        bar, "(ns) => ns.filter((n) => n.offsetWidth > 0).map((n) => n.offsetWidth)"
    )
    assert len(widths) == 4 and min(widths) >= 44, widths  # inbox, tickets, bell, More
    await shot(page, "phone-bar-admin")

    more = page.get_by_role("button", name="More", exact=True)
    await more.click()
    menu = page.locator("#more-menu")
    await expect(menu).to_be_visible()
    names = [
        "Agents", "Sagas", "Reports", "Canned replies", "Auto-replies", "Site & widget",
        "Blacklist", "Dead letters", "Webhooks", "API tokens", "Sign out",
    ]  # fmt: skip
    await expect(menu.get_by_role("button")).to_have_text(names)
    assert await off_screen(page, "#more-menu button") == []
    await shot(page, "phone-more-admin")
    await page.keyboard.press("Escape")
    await expect(menu).to_be_hidden()
    await expect(more).to_be_focused()

    await more.click()
    await menu.get_by_role("button", name="Dead letters").click()
    await expect(menu).to_be_hidden()
    await expect(page.locator("#page-deadletters")).to_be_visible()
    await more.click()
    await expect(menu.get_by_role("button", name="Dead letters")).to_have_attribute(
        "aria-current", "page"
    )
    await page.mouse.click(200, 100)  # outside
    await expect(menu).to_be_hidden()

    # Wide screens: the rail holds every page and Sign out, all on screen, no More.
    for width, height in SIZES[:2]:
        await page.set_viewport_size({"width": width, "height": height})
        await expect(more).to_be_hidden()
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert await off_screen(page, bar) == []

    await page.set_viewport_size({"width": 375, "height": 812})
    await more.click()
    await menu.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#login-view")).to_be_visible()
