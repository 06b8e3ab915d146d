"""The Site & widget page's holidays and special hours (issue 15), in Chromium: added,
saved, shown again after a reload and removed at 1280x800; a missing or repeated date and
special hours that end before they start are said at once and nothing is sent; a date the
server refuses (before 2000) is said as a sentence and nothing is stored. In zh-CN at
1280x800, 1366x768 and 375x812 the new part has no English left and nothing scrolls
sideways; screenshots in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.async_api import Page, expect

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.browser import Opener, shot, sign_in
from tests.support.console_i18n import no_english, no_overflow
from tests.support.kefu import PASSWORD, Kefu
from tests.support.layout import SIZES

HOURS = {
    "timezone": "Europe/Berlin",
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "18:00",
    "holidays": ["2026-12-25"],
    "special": [{"date": "2026-12-24", "start": "09:00", "end": "12:00"}],
}


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(sites=[{"id": "shop", "name": "Acme Shop", "origins": []}])


async def open_site_page(page: Page, kefu: Kefu) -> None:
    """Signed in already: the page by its rail button's own handler (the phone's More menu
    is checked in test_console_admin_pages), the shop's settings chosen."""
    await page.goto(kefu.url("/console"))
    await expect(page.locator("#conn-state.online")).to_be_visible()
    await page.evaluate("() => document.querySelector('.rail-btn[data-page=texts]').click()")
    await expect(page.locator("#page-texts h1")).to_be_visible()
    await page.locator("#site-picker").select_option("shop")


async def sign_in_anywhere(page: Page, kefu: Kefu, email: str) -> None:
    """Sign in by the form's ids (its labels are in the page's language)."""
    await page.goto(kefu.url("/console"))
    await page.locator("#login-email").fill(email)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-state.online")).to_be_visible()


async def stored_hours(kefu: Kefu, token: str) -> object:
    status, body = await kefu.get("/api/v1/sites/shop/settings", token)
    assert status == 200
    return body["office_hours"]


async def test_holidays_and_special_hours_are_added_checked_saved_and_removed(
    kefu: Kefu, browser: Opener, expected_errors: list[re.Pattern[str]]
) -> None:
    expected_errors.append(re.compile(r"status of 422 .*/api/v1/sites/shop/settings"))
    root = await kefu.add_agent("Root", Role.ADMIN)
    page = await browser(width=1280, height=800)
    await sign_in(page, kefu, root["email"])
    await open_site_page(page, kefu)
    form = page.locator(".site-form")
    await form.get_by_label("This site has its own office hours").check()
    await form.get_by_label("Time zone").fill("Europe/Berlin")
    dates = form.locator(".admin-dates")
    add = dates.get_by_role("button", name="Add a date")
    error = form.locator(".form-error")

    # A row without a date: said at once, nothing sent.
    await add.click()
    await form.get_by_role("button", name="Save").click()
    await expect(error).to_have_text("Pick a date for each holiday or special day.")
    rows = dates.locator(".admin-date-row")
    await rows.nth(0).get_by_label("Date", exact=True).fill("2026-12-25")
    # Special hours on Christmas Eve, first the wrong way round.
    await add.click()
    eve = rows.nth(1)
    await eve.get_by_label("Date", exact=True).fill("2026-12-24")
    await eve.get_by_label("Closed or special hours").select_option("special")
    await eve.get_by_label("Opens at").fill("12:00")
    await eve.get_by_label("Closes at").fill("09:00")
    await form.get_by_role("button", name="Save").click()
    await expect(error).to_have_text(
        "On 2026-12-24 the opening time must be before the closing time."
    )
    await eve.get_by_label("Opens at").fill("09:00")
    await eve.get_by_label("Closes at").fill("12:00")
    # The same date twice.
    await add.click()
    await rows.nth(2).get_by_label("Date", exact=True).fill("2026-12-25")
    await form.get_by_role("button", name="Save").click()
    await expect(error).to_have_text("2026-12-25 is listed twice.")
    assert await stored_hours(kefu, root["token"]) is None  # nothing was sent
    # A date the server refuses (before 2000): a sentence, nothing stored.
    await rows.nth(2).get_by_label("Date", exact=True).fill("1999-12-31")
    await form.get_by_role("button", name="Save").click()
    await expect(error).not_to_have_text("")
    assert "422" not in (await error.inner_text()) and "validation" not in await error.inner_text()
    assert await stored_hours(kefu, root["token"]) is None
    await rows.nth(2).get_by_role("button", name="Remove").click()
    await expect(rows).to_have_count(2)

    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("status")).to_have_text("Saved.")
    await shot(page, "site-dates-saved")
    assert await stored_hours(kefu, root["token"]) == HOURS

    # After a reload the rows are back, by date; removing the holiday saves without it.
    await page.reload()
    await open_site_page(page, kefu)
    rows = page.locator(".site-form .admin-date-row")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).get_by_label("Date", exact=True)).to_have_value("2026-12-24")
    await expect(rows.nth(0).get_by_label("Opens at")).to_be_visible()
    await expect(rows.nth(1).get_by_label("Opens at")).to_be_hidden()  # closed all day
    await rows.nth(1).get_by_role("button", name="Remove").click()
    await page.locator(".site-form").get_by_role("button", name="Save").click()
    await expect(page.locator(".site-form").get_by_role("status")).to_have_text("Saved.")
    assert await stored_hours(kefu, root["token"]) == {**HOURS, "holidays": []}


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_the_dates_in_chinese_fit_every_size(
    kefu: Kefu, browser: Opener, width: int, height: int
) -> None:
    root = await kefu.add_agent("Root", Role.ADMIN)
    status, _ = await kefu.put(
        "/api/v1/sites/shop/settings", root["token"], {"office_hours": HOURS}
    )
    assert status == 200
    page = await browser(width=width, height=height, locale="zh-CN")
    await sign_in_anywhere(page, kefu, root["email"])
    await open_site_page(page, kefu)
    dates = page.locator(".site-form .admin-dates")
    await expect(dates.get_by_role("button", name="添加日期")).to_be_visible()
    await expect(dates.locator(".admin-date-row")).to_have_count(2)
    await dates.scroll_into_view_if_needed()
    await no_english(page, ".site-form .admin-dates", {"Europe/Berlin"})
    await no_overflow(page)
    await shot(page, f"site-dates-zh-{width}x{height}")
