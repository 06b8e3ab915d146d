"""The inbox's layout at 1280x800, 1366x768 and 375x812 (issue 15, bugs 1-3): the chat
header keeps the visitor's name and status whole beside a supervisor's actions and a
conversation's labels; on a phone the visitor drawer closes (its ×, Esc, a tap outside)
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
    assert await off_screen(page, ".chat-head button, .chat-head select, .chat-head input") == [], label
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
