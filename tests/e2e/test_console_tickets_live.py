"""Ticket changes appear live in another agent's console, in a real browser against a real
node: Bob works a ticket over REST while Ann has the Tickets page open; her list and her
open ticket follow without a reload (a new ticket assigned to her, status, priority,
assignee, a note and a reply, the SLA badge, "paused" while pending).

Screenshots go to ``test-artifacts/console-tickets-live-*.png`` (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Page, expect

from kefu.config import Settings
from tests.support.browser import ARTIFACTS, Opener, sign_in
from tests.support.console_tickets import TICKETS, open_tickets, row
from tests.support.kefu import Kefu


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(tickets=TICKETS)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(ARTIFACTS / f"console-tickets-live-{name}.png"))


async def patch(kefu: Kefu, ticket_id: str, token: str, body: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = kefu.url(f"/api/v1/tickets/{ticket_id}")
    async with kefu.http.patch(url, headers=headers, json=body) as resp:
        assert resp.status == 200, await resp.text()


async def test_another_agents_changes_show_without_a_reload(kefu: Kefu, browser: Opener) -> None:
    ann = await kefu.add_agent("Ann Lee")
    bob = await kefu.add_agent("Bob Stone")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    await open_tickets(page)
    await expect(page.locator("#tk-empty")).to_have_text("No tickets yet.")
    # Anything that reloads the page loses this.
    await page.evaluate("window.__kefuNoReload = 'still here'")

    # Bob files a ticket for Ann: it appears in her list by itself.
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        bob["token"],
        {
            "customer_key": "C1001",
            "subject": "Parcel never arrived",
            "body": "Order SO-100251 was due last week.",
            "assignee_id": ann["id"],
        },
    )
    assert status == 201
    tid = ticket["id"]
    line = row(page, tid)
    await expect(line).to_be_visible()
    await expect(line.locator(".tk-assignee")).to_have_text("Ann Lee (you)")
    await expect(line.locator(".st")).to_have_text("new")
    await expect(line.locator(".sla")).to_have_text(re.compile(r"^1st reply · 3 h 5\d min left$"))

    # She opens it; Bob changes status and priority: her view and list follow.
    await line.click()
    view = page.locator("#tk-view")
    await expect(view.locator("#tk-subject")).to_have_text("Parcel never arrived")
    await patch(kefu, tid, bob["token"], {"status": "open", "priority": "high"})
    await expect(view.locator(".tk-badges .st")).to_have_text("open")
    await expect(view.locator(".tk-badges .prio")).to_have_text("high")
    await expect(view.get_by_label("Status")).to_have_value("open")
    await expect(line.locator(".prio")).to_have_text("high")
    await expect(line.locator(".sla")).to_have_class(re.compile(r"\bsla-warn\b"))  # 45 min
    await expect(view.locator("#tk-live")).to_have_text(
        "Updated just now by Bob Stone: status, priority, first-response target, resolution target"
    )
    history = view.locator("#tk-history")
    await expect(history).to_contain_text("Bob Stone changed the priority: normal → high")

    # An internal note and a public reply from Bob: both appear, the reply answers the
    # first response and the badge moves on to the resolution.
    path = f"/api/v1/tickets/{tid}/comments"
    note = "DHL case 4471: <b>call them back</b> on Friday."
    status, _ = await kefu.post(path, bob["token"], {"body": note, "internal": True})
    assert status == 201
    status, _ = await kefu.post(path, bob["token"], {"body": "We are tracing the parcel."})
    assert status == 201
    comments = view.locator("#tk-comments .tk-comment")
    await expect(comments).to_have_count(2)
    await expect(comments.nth(0)).to_have_class(re.compile(r"\binternal\b"))
    await expect(comments.nth(0).locator(".tk-comment-body")).to_have_text(note)
    await expect(comments.nth(1)).to_contain_text("Bob Stone")
    await expect(comments.nth(1)).to_contain_text("Public reply")
    sla = view.locator(".tk-badges .sla")
    await expect(sla).to_have_text(re.compile(r"^resolution · 7 h \d\d min left$"))
    await shot(page, "view")

    # Pending: the resolution clock pauses, and the badge says so.
    await patch(kefu, tid, bob["token"], {"status": "pending"})
    await expect(sla).to_have_text("resolution · paused")
    await expect(sla).to_have_class(re.compile(r"\bsla-paused\b"))
    await expect(line.locator(".sla")).to_have_text("resolution · paused")
    await expect(view.locator("#tk-sla")).to_contain_text("Paused")
    await shot(page, "paused")

    # Reopened: the countdown runs again from where it stopped.
    await patch(kefu, tid, bob["token"], {"status": "open"})
    await expect(sla).to_have_text(re.compile(r"^resolution · 7 h \d\d min left$"))

    # Bob takes it: Ann's view and list say whose it is now.
    await patch(kefu, tid, bob["token"], {"assignee_id": bob["id"]})
    await expect(view.get_by_label("Assignee")).to_have_value(bob["id"])
    await expect(line.locator(".tk-assignee")).to_have_text("Bob Stone")
    await expect(view.locator("#tk-comment-input")).to_be_editable()
    # The history it fetched after the frame (done before the node stops at the end).
    await expect(history).to_contain_text(
        "Bob Stone changed the assignee: Ann Lee (you) → Bob Stone"
    )

    assert await page.evaluate("window.__kefuNoReload") == "still here"
    await shot(page, "reassigned")


async def test_a_ticket_not_addressed_to_the_viewer_is_re_read_on_the_tick(
    kefu: Kefu, browser: Opener
) -> None:
    """Carl (an agent) opens Bob's ticket: no frames are addressed to him, so his console
    re-reads it on its 30 s SLA tick (Playwright's clock runs that tick here)."""
    bob = await kefu.add_agent("Bob Stone")
    carl = await kefu.add_agent("Carl Diaz")
    status, ticket = await kefu.post(
        "/api/v1/tickets",
        bob["token"],
        {"customer_key": "C1", "subject": "Bob's ticket", "body": "b", "assignee_id": bob["id"]},
    )
    assert status == 201
    page = await browser()
    await page.clock.install()
    await sign_in(page, kefu, carl["email"])
    await open_tickets(page)
    await row(page, ticket["id"]).click()
    view = page.locator("#tk-view")
    await expect(view.locator("#tk-subject")).to_have_text("Bob's ticket")

    path = f"/api/v1/tickets/{ticket['id']}/comments"
    status, _ = await kefu.post(path, bob["token"], {"body": "Called the customer."})
    assert status == 201
    await patch(kefu, ticket["id"], bob["token"], {"status": "pending"})
    await page.clock.fast_forward("00:31")
    await expect(view.locator("#tk-comments .tk-comment")).to_have_count(1)
    await expect(view.locator(".tk-badges .st")).to_have_text("pending")
    await expect(view.locator(".tk-badges .sla")).to_have_text("resolution · paused")
    await expect(row(page, ticket["id"]).locator(".st")).to_have_text("pending")
