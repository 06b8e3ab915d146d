"""After sign-out the console's login page is for the next person (issue 16): it follows
``?lang=`` or the browser, not the language of the agent who just left. The console caches
the signed-in agent's language in localStorage for its first paint; signing out, or a
session revoked elsewhere, drops it. In Chromium, with an English browser and an agent whose
saved language is zh-CN.
"""

from __future__ import annotations

import secrets
from typing import Any

from playwright.async_api import Page, expect

from kefu.domain.roles import Role
from tests.support.browser import Opener, shot
from tests.support.kefu import PASSWORD, PASSWORD_HASH, Kefu

CACHED_LANGUAGE = "() => localStorage.getItem('kefu.console.lang')"


async def chinese_agent(kefu: Kefu) -> dict[str, Any]:
    """An agent whose saved language is zh-CN."""
    email = f"agent-{secrets.token_hex(3)}@example.test"
    await kefu.node.repos.agents.create(
        email=email,
        name="王芳",
        role=Role.AGENT,
        password_hash=PASSWORD_HASH,
        now=kefu.node.clock.now(),
    )
    agent = await kefu.login(email)
    status, me = await kefu.patch("/api/v1/auth/me", agent["token"], {"language": "zh-CN"})
    assert status == 200 and me["language"] == "zh-CN", me
    return agent


async def signed_in_in_chinese(page: Page, kefu: Kefu, email: str) -> None:
    """Signs in from the English login page; the console then follows the saved zh-CN."""
    await page.goto(kefu.url("/console"))
    await expect(page.locator("#login-form h1")).to_have_text("Sign in to the agent console")
    await page.locator("#login-email").fill(email)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-state")).to_have_text("在线")
    assert await page.evaluate(CACHED_LANGUAGE) == "zh-CN"


async def shows_english_login(page: Page) -> None:
    await expect(page.locator("#login-view")).to_be_visible()
    await expect(page.locator("#login-form h1")).to_have_text("Sign in to the agent console")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    assert await page.evaluate(CACHED_LANGUAGE) is None


async def test_signing_out_leaves_a_login_page_in_the_browsers_language(
    kefu: Kefu, browser: Opener
) -> None:
    agent = await chinese_agent(kefu)
    page = await browser(1280, 800, locale="en-US")
    await signed_in_in_chinese(page, kefu, agent["email"])

    async with page.expect_navigation():  # the Chinese page reloads in the browser's language
        await page.get_by_role("button", name="退出登录").click()
    await shows_english_login(page)
    await expect(page.locator("#login-error")).to_have_text("")
    await shot(page, "signout-lang-1280x800")
    # A reload of that login page stays in English too.
    await page.reload()
    await shows_english_login(page)

    # ?lang= still chooses the login page's language.
    await page.goto(kefu.url("/console?lang=zh-CN"))
    await expect(page.locator("#login-form h1")).to_have_text("登录客服工作台")


async def test_a_revoked_session_leaves_a_login_page_in_the_browsers_language(
    kefu: Kefu, browser: Opener
) -> None:
    agent = await chinese_agent(kefu)
    page = await browser(375, 812, locale="en-US")
    await signed_in_in_chinese(page, kefu, agent["email"])

    # Signed out from another device: every token of the agent is revoked, the socket closes.
    async with page.expect_navigation():
        status, _ = await kefu.post("/api/v1/auth/logout", agent["token"])
        assert status in (200, 204)
    await shows_english_login(page)
    await expect(page.locator("#login-error")).to_have_text("Your session ended. Sign in again.")
    await shot(page, "signout-lang-revoked-375x812")
