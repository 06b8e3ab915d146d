"""The Reports page in Chromium: a supervisor opens it and reads the tiles, the per-day
chart and the agents' table computed from a known history (written with chosen times,
yesterday, so it is inside both the 7- and the 30-day period); an agent's name stays
text; a plain agent has no Reports button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import expect

from kefu.domain.models import SenderKind
from kefu.domain.roles import Role
from tests.support.browser import Opener, shot, sign_in
from tests.support.kefu import Kefu
from tests.support.report_history import History

AGENT = SenderKind.AGENT


async def test_a_supervisor_reads_the_reports(kefu: Kefu, browser: Opener) -> None:
    alice = await kefu.add_agent("Alice")
    bob = await kefu.add_agent("Bob <b>the builder</b>")
    sue = await kefu.add_agent("Sue", Role.SUPERVISOR)
    yesterday = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    h = History(kefu)
    await h.conversation(  # answered in 30 s, closed after 20 min, rated 5
        yesterday,
        status="closed",
        assignee=alice["id"],
        closed=yesterday + timedelta(minutes=20),
        rating=5,
        said=((30, AGENT, alice["id"], False),),
    )
    await h.conversation(  # answered in 90 s, closed after 1 h, rated 3
        yesterday + timedelta(hours=1),
        status="closed",
        assignee=bob["id"],
        closed=yesterday + timedelta(hours=2),
        rating=3,
        said=((90, AGENT, bob["id"], False),),
    )
    await h.conversation(yesterday + timedelta(hours=3), status="waiting")

    page = await browser()
    await sign_in(page, kefu, sue["email"])
    await page.get_by_role("button", name="Reports").click()
    tiles = page.locator("#rp-tiles")
    conversations = tiles.locator("[data-tile=conversations]")
    await expect(conversations.locator(".rp-value")).to_have_text("3")
    await shot(page, "reports-30-days")
    await expect(conversations.locator(".rp-detail")).to_have_text("2 closed · 1 waiting now")
    # Median of 30 s and 90 s; of 20 min and 60 min.
    first = tiles.locator("[data-tile=first-response]")
    await expect(first.locator(".rp-value")).to_have_text("1m")  # Intl units (i18n.fmtDuration)
    await expect(first.locator(".rp-detail")).to_have_text("p90 1m 24s · 1 not answered yet")
    await expect(tiles.locator("[data-tile=resolution] .rp-value")).to_have_text("40m")
    await expect(tiles.locator("[data-tile=csat] .rp-value")).to_have_text("50%")
    await expect(tiles.locator("[data-tile=csat] .rp-detail")).to_have_text(
        "average 4.0 of 5 · 2 ratings"
    )

    chart = page.locator("#rp-chart svg")
    await expect(chart).to_have_attribute("aria-label", "Conversations per day: 3 opened, 2 closed")
    await expect(chart.locator("g[data-date]")).to_have_count(7)
    day = chart.locator(f'g[data-date="{yesterday.date()}"] title')
    assert (await day.text_content() or "").endswith(": 3 opened, 2 closed")

    rows = page.locator("#rp-agents tr")
    await expect(rows).to_have_count(3)
    cells = [await rows.nth(n).locator("th, td").all_text_contents() for n in range(3)]
    assert cells == [
        ["Alice", "1", "1", "1", "30s", "1", "5.0", "100%"],
        ["Bob <b>the builder</b>", "1", "1", "1", "1m 30s", "1", "3.0", "0%"],
        ["Sue", "0", "0", "0", "—", "0", "—", "—"],
    ]
    assert await page.locator("#rp-agents b").count() == 0  # the name stayed text
    await shot(page, "reports")

    await page.get_by_role("button", name="Last 30 days").click()
    await expect(page.locator("#rp-chart svg g[data-date]")).to_have_count(30)
    await expect(page.get_by_role("button", name="Last 30 days")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(conversations.locator(".rp-value")).to_have_text("3")
    await shot(page, "reports-30-days")


async def test_an_agent_has_no_reports_button(kefu: Kefu, browser: Opener) -> None:
    ann = await kefu.add_agent("Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    await expect(page.get_by_role("button", name="Reports")).to_be_hidden()
