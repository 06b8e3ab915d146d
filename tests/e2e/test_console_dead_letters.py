"""The admin's dead-letter page in Chromium: a complaint whose ticket the store refuses
is listed with why and what it held; after the fix, Replay makes its one ticket; Discard
removes another for good. The fault is a real trigger in the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from kefu.config import Settings
from kefu.domain.roles import Role
from kefu.store.tables import tickets
from tests.support.browser import Opener, shot, sign_in
from tests.support.dead_letters import ACCEPT, BROKEN, REFUSE, RULE, run_sql
from tests.support.kefu import Kefu


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(
        rules=[RULE],
        events={"batch": 20, "max_attempts": 2, "jetstream": {"backoff_seconds": [0.05]}},
    )


def complaint(event_id: str, summary: str) -> dict[str, Any]:
    return {
        "type": "customer.complaint",
        "id": event_id,
        "customer_key": BROKEN,
        "data": {"summary": summary},
    }


async def broken_tickets(kefu: Kefu) -> int:
    async with kefu.node.repos.db.connect() as conn:
        found = await conn.execute(
            sa.select(sa.func.count()).where(tickets.c.customer_key == BROKEN)
        )
        return int(found.scalar_one())


async def open_dead_letters(page: Page) -> None:
    await page.get_by_role("button", name="Dead letters").click()
    await expect(page.locator("#page-deadletters h1")).to_have_text("Dead letters")


async def test_an_admin_reads_replays_and_discards_dead_letters(
    kefu: Kefu, browser: Opener
) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    await run_sql(kefu, REFUSE["sqlite"])
    for event_id, summary in (("cc-7", "parcel <b>7</b> lost"), ("cc-8", "second complaint")):
        status, _ = await kefu.post("/api/v1/events", root["token"], complaint(event_id, summary))
        assert status == 202
    page = await browser()
    page.on("dialog", lambda dialog: dialog.accept())
    await sign_in(page, kefu, root["email"])
    await open_dead_letters(page)
    rows = page.locator("#deadletters-rows tr")
    for _ in range(100):  # both die after their attempts: reload the page until listed
        if await rows.count() == 2:
            break
        await page.get_by_role("button", name="Conversations").click()
        await open_dead_letters(page)
        await page.wait_for_timeout(100)
    await expect(rows).to_have_count(2)
    first = page.locator("#deadletters-rows tr", has_text="cc-7")
    await expect(first).to_contain_text("customer.complaint")
    await expect(first).to_contain_text("crm sync down")
    await first.locator("summary").click()
    # The payload is shown as text: the markup in it stays markup, not HTML.
    await expect(first.locator("pre.payload")).to_contain_text('"summary": "parcel <b>7</b> lost"')
    await shot(page, "dead-letters")

    await run_sql(kefu, ACCEPT["sqlite"])  # the cause fixed
    await page.get_by_role("button", name="Replay cc-7").click()
    await expect(rows).to_have_count(1)
    await expect(page.locator("#deadletters-rows")).not_to_contain_text("cc-7")
    for _ in range(100):
        if await broken_tickets(kefu) == 1:
            break
        await page.wait_for_timeout(100)
    assert await broken_tickets(kefu) == 1

    await page.get_by_role("button", name="Discard cc-8").click()
    await expect(rows).to_have_count(0)
    await expect(page.locator("#deadletters-empty")).to_be_visible()
    assert await kefu.node.events.dead_letters() == []
    assert await broken_tickets(kefu) == 1
    await shot(page, "dead-letters-empty")


async def test_the_page_is_for_admins_only(kefu: Kefu, browser: Opener) -> None:
    boss = await kefu.add_agent("Sue", Role.SUPERVISOR)
    page = await browser()
    await sign_in(page, kefu, boss["email"])
    await expect(page.get_by_role("button", name="Blacklist")).to_be_visible()
    await expect(page.get_by_role("button", name="Dead letters")).to_be_hidden()
