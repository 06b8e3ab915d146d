"""The admin pages added for issue 15 in Chinese (issue 16), in Chromium whose language is
zh-CN, each with real data made through the REST API first so nothing is an empty list:

- Site & widget: a zh-CN site with its greeting, bot welcome and offline texts in both
  languages, colour, side, pre-chat form and own office hours;
- Webhooks: a webhook with a delivered event, its delivery log open, and a new one's
  signing secret shown once;
- API tokens: a token made through the API and used, another made in the page with its
  secret shown once;
- editing in place: a canned reply's and an auto-reply's row as a form, an agent's rename
  and reset-password dialogs; and the phone's More menu that leads to these pages.

No English word is left outside data (names, ids, URLs, codes such as scope and event
names) and the short list of codes (API, ID, ...), at 1366x768 and 375x812. Screenshots go
to ``test-artifacts/console-zh-admin-*.png``.
"""

# ruff: noqa: RUF001 (Chinese text uses full-width punctuation on purpose)
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from kefu.config import Settings
from kefu.domain.roles import Role
from tests.support.browser import ARTIFACTS, Opener
from tests.support.console_i18n import no_english, no_overflow
from tests.support.kefu import PASSWORD, Kefu

SIZES = [(1366, 768), (375, 812)]
HANG_GUARD = 15.0  # seconds: only a stuck delivery takes that long
SITE = {"id": "shop", "name": "爱克美商城", "origins": [], "locale": "zh-CN"}
# Examples of a format in the webhook form's placeholders: what to type, not a sentence.
EXAMPLES = {"crm_sync", "https://example.com/kefu", "ticket.*, customer.>"}


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory(sites=[SITE])


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """A webhook endpoint that takes every delivery."""

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/hook"
    await server.close()


async def api(kefu: Kefu, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = await kefu.request(method, path, token, body)
    assert status in (200, 201, 202), (path, status, answer)
    return answer


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(ARTIFACTS / f"console-zh-admin-{name}.png"))


async def show(page: Page, name: str) -> None:
    """A page by its rail button's own handler (the phone's More menu is checked apart)."""
    await page.evaluate("(n) => document.querySelector(`.rail-btn[data-page=${n}]`).click()", name)
    await expect(page.locator(f"#page-{name} h1, #page-{name} h2").first).to_be_visible()


async def delivered(kefu: Kefu, token: str, name: str) -> None:
    """Wait until the webhook ``name`` has a delivered event (the outbox works on its own)."""
    deadline = time.monotonic() + HANG_GUARD
    while True:
        log = await api(kefu, "GET", f"/api/v1/webhooks/{name}/deliveries", token)
        if any(d["status"] == "delivered" for d in log["items"]):
            return
        assert time.monotonic() < deadline, f"no delivery to {name}: {log}"
        await asyncio.sleep(0.05)


async def refusals(page: Page, kefu: Kefu, token: str, receiver: str, data: set[str]) -> None:
    """What each page says when it refuses (its own check or the server's), in Chinese,
    and that the refusal changed nothing."""
    await show(page, "texts")
    await page.locator("#site-picker").select_option("shop")
    form = page.locator(".site-form")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        await form.locator(f"[name='day.{day}']").uncheck()
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".form-error")).to_have_text("请至少选择一天。")
    await form.locator("[name='day.sat']").check()
    await form.locator("[name=timezone]").fill("Mars/Olympus")
    await form.locator("button[type=submit]").click()
    zone = "“Mars/Olympus”不是有效的时区名称，请从列表中选择。"
    await expect(form.locator(".form-error")).to_have_text(zone)
    await no_english(page, "#page-texts .form-error", data | {"Mars/Olympus"})
    stored = await api(kefu, "GET", "/api/v1/sites/shop/settings", token)
    assert stored["office_hours"]["timezone"] == "Asia/Shanghai"  # unchanged

    await show(page, "webhooks")
    form = page.locator("#wh-form")
    await form.locator("[name=name]").fill("orders")  # taken
    await form.locator("[name=url]").fill(receiver)
    await form.locator("[name=events]").fill("order.*")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("[data-error=webhooks]")).not_to_be_empty()
    await no_english(page, "[data-error=webhooks]", data)

    await show(page, "tokens")
    await page.locator("#tok-form [name=name]").fill("无权限")
    await page.locator("#tok-form button[type=submit]").click()
    await expect(page.locator("[data-error=tokens]")).to_have_text("请至少选择一个权限范围。")
    assert len(await api(kefu, "GET", "/api/v1/api-tokens", token)) == 1  # nothing made
    await shot(page, "refusal-tokens-1366x768")


async def test_site_webhooks_tokens_and_edit_forms_speak_chinese(
    kefu: Kefu, browser: Opener, receiver: str, expected_errors: list[re.Pattern[str]]
) -> None:
    expected_errors.append(re.compile(r"status of 409 .*/api/v1/webhooks"))
    wang = await kefu.add_agent("王芳", Role.ADMIN)
    li_na = await kefu.add_agent("李娜", Role.AGENT)
    token = wang["token"]
    await api(kefu, "PUT", "/api/v1/sites/shop/settings", token, {
        "name": "小美",
        "color": "#0f766e",
        "position": "left",
        "texts": {
            "zh-CN": {"greeting": "您好，有什么可以帮您？", "welcome": "欢迎光临爱克美",
                      "offline": "我们现在不在线，请留言。"},
            "en": {"greeting": "Hi there!", "welcome": "Welcome to Acme",
                   "offline": "We are away."},
        },
        "prechat": {"name": "required", "email": "optional"},
        "office_hours": {"timezone": "Asia/Shanghai", "days": ["mon", "tue", "wed", "thu", "fri"],
                         "start": "09:00", "end": "21:00"},
    })  # fmt: skip
    hook = {"name": "orders", "url": receiver, "events": ["order.*"]}
    await api(kefu, "POST", "/api/v1/webhooks", token, hook)
    event = {"type": "order.refunded", "customer_key": "C1001", "data": {}}
    await api(kefu, "POST", "/api/v1/events", token, event)
    await delivered(kefu, token, "orders")
    scopes: list[str] = await api(kefu, "GET", "/api/v1/api-tokens/scopes", token)
    used = await api(kefu, "POST", "/api/v1/api-tokens", token, {
        "name": "订单系统", "scopes": ["events:write"],
    })  # fmt: skip
    await api(kefu, "POST", "/api/v1/events", used["token"], event)  # "last used" is set
    await api(kefu, "POST", "/api/v1/canned-replies", token, {
        "shortcut": "thanks", "title": "感谢", "body": "感谢您的耐心等待！",
    })  # fmt: skip
    await api(kefu, "POST", "/api/v1/auto-replies", token, {
        "keywords": ["营业时间"], "reply": "我们每天 9:00–21:00 在线。",
    })  # fmt: skip

    # Data shown as it is: ids, the site's English texts, URLs, codes, secrets.
    data = {"shop", receiver, "orders", "order.*", "order.refunded", "thanks", *scopes, *EXAMPLES}
    data |= {"Hi there!", "Welcome to Acme", "We are away.", wang["email"], li_na["email"]}

    page = await browser(width=1366, height=768, locale="zh-CN")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(kefu.url("/console"))
    await page.locator("#login-email").fill(wang["email"])
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-state.online")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    await refusals(page, kefu, token, receiver, data)

    for index, (width, height) in enumerate(SIZES):
        size = f"{width}x{height}"
        await page.set_viewport_size({"width": width, "height": height})

        # ---- Site & widget --------------------------------------------------------------
        await show(page, "texts")
        await page.locator("#site-picker").select_option("shop")
        site_form = page.locator(".site-form")
        await expect(site_form.locator("fieldset[data-lang=zh-CN] textarea").nth(1)).to_have_value(
            "欢迎光临爱克美"
        )
        await expect(site_form.locator("[name=own_hours]")).to_be_checked()
        await no_english(page, "#page-texts", data)
        await no_overflow(page)
        await shot(page, f"site-{size}")
        await site_form.locator("button[type=submit]").click()
        await expect(site_form.locator(".saved")).to_have_text("已保存。")

        # ---- Webhooks: one added here (its secret shown once), the delivery log open -----
        await show(page, "webhooks")
        name = f"crm_{index}"
        form = page.locator("#wh-form")
        await form.locator("[name=name]").fill(name)
        await form.locator("[name=url]").fill(receiver)
        await form.locator("[name=events]").fill("customer.*")
        await form.locator("button[type=submit]").click()
        data |= {name, "customer.*", await page.locator("#wh-secret code.secret").inner_text()}
        await expect(page.locator("#wh-secret")).to_be_visible()
        row = page.locator("#wh-rows tr[data-name=orders]")
        await row.locator("[aria-expanded]").click()
        log = page.locator("#wh-rows .wh-log-row")
        await expect(log.locator("tbody tr").first).to_contain_text("order.refunded")
        await expect(log.locator("tbody tr").first).to_contain_text("已送达")
        await no_english(page, "#page-webhooks", data)
        await no_overflow(page)
        await page.evaluate("document.querySelector('.wh-table').scrollLeft = 0")  # clicked
        await shot(page, f"webhooks-{size}")
        await row.locator("[aria-expanded]").click()

        # ---- API tokens: the list and the secret shown once -----------------------------
        await show(page, "tokens")
        form = page.locator("#tok-form")
        await form.locator("[name=name]").fill(f"工单同步 {index}")
        await form.locator("[name=scope][value='events:write']").check()
        await form.locator("button[type=submit]").click()
        data.add(await page.locator("#tok-secret code.secret").inner_text())
        await expect(page.locator("#tok-secret")).to_be_visible()
        await expect(page.locator(".tok-table tbody tr")).to_have_count(2 + index)
        await no_english(page, "#page-tokens", data)
        await no_overflow(page)
        await shot(page, f"tokens-{size}")

        # ---- editing in place: canned reply, auto-reply --------------------------------
        await show(page, "canned")
        await page.locator("#canned-rows").get_by_role("button", name="编辑 /thanks").click()
        await expect(page.locator("#canned-rows tr.editing")).to_be_visible()
        await no_english(page, "#page-canned", data)
        await no_overflow(page)
        await shot(page, f"canned-edit-{size}")
        await page.locator("#canned-rows tr.editing input").first.press("Escape")
        await expect(page.locator("#canned-rows tr.editing")).to_have_count(0)

        await show(page, "autoreplies")
        edit_name = "编辑关键词为 营业时间 的自动回复"
        edit = page.locator("#auto-rows").get_by_role("button", name=edit_name)
        await edit.click()
        await expect(page.locator("#auto-rows tr.editing")).to_be_visible()
        await no_english(page, "#page-autoreplies", data)
        await no_overflow(page)
        await shot(page, f"autoreply-edit-{size}")
        await page.locator("#auto-rows tr.editing input").first.press("Escape")
        await expect(page.locator("#auto-rows tr.editing")).to_have_count(0)

        # ---- agents: the rename and reset-password dialogs ------------------------------
        await show(page, "agents")
        agent_row = page.locator("#agents-rows tr", has_text=li_na["email"])
        await no_english(page, "#page-agents", data)
        await agent_row.get_by_role("button", name="给 李娜 改名").click()
        dialog = page.locator("dialog.admin-dialog")
        await expect(dialog).to_be_visible()
        await no_english(page, "dialog.admin-dialog", data)
        await shot(page, f"agent-rename-{size}")
        await dialog.press("Escape")
        await expect(dialog).to_have_count(0)
        await agent_row.get_by_role("button", name="重置 李娜 的密码").click()
        await expect(dialog).to_be_visible()
        await no_english(page, "dialog.admin-dialog", data)
        await shot(page, f"agent-reset-{size}")
        await dialog.press("Escape")
        await expect(dialog).to_have_count(0)

        if width < 720:  # the phone's More menu, which leads to these pages
            await page.locator("#more-btn").click()
            await expect(page.locator("#more-menu")).to_be_visible()
            await no_english(page, "#more-menu", data)
            await shot(page, f"more-{size}")
            await page.keyboard.press("Escape")
