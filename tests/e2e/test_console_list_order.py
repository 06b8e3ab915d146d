"""The console's list keeps the newest thing it heard of a conversation.

A console fetches a conversation's summary when a frame names one it does not list yet
(``conversation.assigned``, ``conversation.updated``, ``message.new``). Under load such an
answer can arrive after frames newer than its snapshot: it must not take the list row back
to an older (or empty) last message. This was the cause of
test_console_notes' flakes under xdist ("No messages yet" in the row): the answer to the
fetch made on assignment, read before the first message was stored, landed last.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.support.browser import Opener, sign_in
from tests.support.held_route import HeldFirstAnswer
from tests.support.kefu import Kefu


async def _settled(page: Page) -> None:
    """Barrier: a response the page finished receiving has been handled by its script.

    A fetch round trip started now, then a macrotask: the earlier body's ``json()``
    continuation was queued before this request even left (same task source), so it
    has run by the time this resolves."""
    await page.evaluate(
        """async () => {
            await (await fetch('/healthz', {cache: 'no-store'})).text();
            await new Promise((resolve) => setTimeout(resolve, 0));
        }"""
    )


async def test_a_late_summary_does_not_undo_a_newer_message(kefu: Kefu, browser: Opener) -> None:
    ann = await kefu.add_agent("Ann")
    bob = await kefu.add_agent("Bob")
    ann_socket = await kefu.ws(ann["token"])  # the only one online: she gets the chat
    visitor = await kefu.ws((await kefu.visitor(name="Vera"))["token"])
    conversation_id = (await visitor.send_message("Where is my parcel?"))["conversation_id"]
    await ann_socket.expect("message.new", timeout=10)

    page = await browser()
    await sign_in(page, kefu, bob["email"])
    hold_first = HeldFirstAnswer()

    summary = re.compile(rf".*/api/v1/conversations/{conversation_id}$")
    await page.route(summary, hold_first)
    status, _ = await kefu.post(
        f"/api/v1/conversations/{conversation_id}/transfer", ann["token"], {"agent_id": bob["id"]}
    )
    assert status == 200
    await hold_first.asked()  # Bob's console asked for the summary; its answer waits

    await visitor.send_message("It was due on Monday")
    row = page.locator(f'#conv-list li[data-id="{conversation_id}"]')
    await expect(row).to_contain_text("It was due on Monday")

    await hold_first.release()  # the old answer lands last
    await page.unroute(summary)
    await _settled(page)
    await expect(row).to_contain_text("It was due on Monday")
    await ann_socket.close()
    await visitor.close()
