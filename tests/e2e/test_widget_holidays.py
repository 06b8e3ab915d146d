"""A site's dated office-hour exceptions in the visitor widget (issue 15), in Chromium at
1280x800, 1366x768 and 375x812: on a holiday (today, in the site's Asia/Shanghai time) the
widget says it is closed and when it opens; special hours today, on a weekday the week
keeps closed, open it (with nobody online it says so, not "closed")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from kefu.chat.sites import OfficeHours, SiteConfig, SpecialHours
from kefu.web.shop import ShopServer
from tests.support.layout import SIZES
from tests.support.widget import LiveKefu, open_widget, screenshot
from tests.support.widget_chat import configure, script_errors

WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ZONE = "Asia/Shanghai"


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_a_holiday_closes_the_widget_and_special_hours_open_it(
    live: LiveKefu, shop: ShopServer, page: Page, width: int, height: int
) -> None:
    errors = script_errors(page)
    today = datetime.now(ZoneInfo(ZONE)).date()
    every_day = OfficeHours(timezone=ZONE, days=WEEK, start="00:00", end="23:59")  # type: ignore[arg-type]
    await configure(
        live, SiteConfig(office_hours=every_day.model_copy(update={"holidays": [today]}))
    )
    await page.set_viewport_size({"width": width, "height": height})
    await open_widget(page, shop)
    await expect(page.locator(".notice", has_text="We're closed. We open")).to_be_visible()
    await screenshot(page, f"holiday-closed-{width}")

    others = [day for day in WEEK if day != WEEK[today.weekday()]]
    special = SpecialHours(date=today, start="00:00", end="23:59")
    hours = OfficeHours(timezone=ZONE, days=others, special=[special])  # type: ignore[arg-type]
    await configure(live, SiteConfig(office_hours=hours))
    await page.reload()
    await page.get_by_role("button", name="Open chat").click()
    notice = page.locator(".notice", has_text="Nobody is online right now")
    await expect(notice).to_be_visible()
    await expect(notice).not_to_contain_text("closed")
    await screenshot(page, f"special-open-{width}")
    assert errors == []
