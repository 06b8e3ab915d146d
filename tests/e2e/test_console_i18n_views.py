"""The console's work views in Chinese (issue 16), in Chromium whose language is zh-CN,
against a real node with the real simulated department systems (CRM, orders API, call
center) as its 360 sources and the refund saga configured with Chinese titles, as a
Chinese operator writes them:

- Tickets: the list (status, priority, SLA countdowns), a ticket with its fields, SLA card,
  comments, internal note and history, the compact 360, and the new-ticket form;
- a chat's Customer 360 (profile, orders in yuan, calls, source badges), the side form
  "Create ticket", the refund saga's confirm dialog and its live timeline to 已完成;
- the Sagas page with a failed saga's detail (the choice between 重试 and 补偿);
- Reports, and the admin pages that were there before (agents, canned replies,
  auto-replies, blacklist, dead letters)

show no English word outside data (names, notes, ids from the systems) and a short list of
codes (SLA, CSAT, API, ...), at 1280x800, 1366x768 and 375x812. Screenshots go to
``test-artifacts/console-zh-*.png``.
"""

# ruff: noqa: RUF001, RUF003 (Chinese text uses full-width punctuation on purpose)
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from kefu.auth.identity import sign_external_id
from kefu.config import Settings
from kefu.demo_systems import BEHAVIOUR, Behaviour
from kefu.demo_systems.refund_saga import demo_sagas
from kefu.demo_systems.sources import demo_sources
from kefu.domain.roles import Role
from tests.support.browser import ARTIFACTS, Opener, until
from tests.support.console_i18n import data_strings, no_english, no_overflow
from tests.support.console_tickets import TICKETS
from tests.support.department_systems import DepartmentSystems, department_systems
from tests.support.kefu import PASSWORD, Kefu, Socket
from tests.support.layout import SIZES

IDENTITY_SECRET = "e2e-identity-secret-for-the-chinese-console"
PANEL = "#customer-360"
ORDER = "SO-100251"  # C1001's paid order
HANG_GUARD = 60.0  # seconds: only a stuck saga takes that long
TITLES = {
    "refund": "订单退款",
    "refund_order": "将订单标记为已退款",
    "take_back_points": "扣回积分",
    "log_call_note": "在呼叫中心记录退款",
    "comment_ticket": "在工单上备注退款",
}
# The admin pages that were there before issue 16 (the site/texts, webhooks and tokens pages
# are admin_*.js modules with tests of their own).
ADMIN_PAGES = ["agents", "canned", "autoreplies", "blacklist", "deadletters"]


@pytest.fixture
async def systems(tmp_path: Path) -> AsyncIterator[DepartmentSystems]:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as running:
        yield running


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], systems: DepartmentSystems) -> Settings:
    sagas = demo_sagas(systems.orders_url)
    refund = sagas["refund"]
    refund["title"] = TITLES["refund"]
    for step in refund["steps"]:
        step["title"] = TITLES[step["name"]]
        step["retry"] = {"attempts": 2, "backoff_seconds": 0.05, "max_backoff_seconds": 0.1}
        if step["name"] == "comment_ticket":  # the operator's own words for the ticket
            step["action"]["create_if_missing"]["subject"] = "订单 {input.order_id} 退款"
            step["action"]["body"] = "订单 {input.order_id} 已退款 {steps.refund_order.amount}。"
    return settings_factory(
        sources=demo_sources(systems.crm_url, systems.callcenter_url, systems.orders_db),
        sagas=sagas,
        tickets=TICKETS,
        auth={"identity_secret": IDENTITY_SECRET},
        customer360={"deadline_ms": 5000},
    )


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(ARTIFACTS / f"console-zh-{name}.png"))


async def sign_in(page: Page, kefu: Kefu, email: str) -> None:
    """By the fields' ids: their labels are Chinese here."""
    await page.goto(kefu.url("/console"))
    await page.locator("#login-email").fill(email)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-state.online")).to_be_visible()


async def show(page: Page, name: str) -> None:
    """A page of the console by its rail button (on a phone some sit in the "more" menu:
    its own test covers that menu; here the button's own handler is enough)."""
    await page.evaluate("(n) => document.querySelector(`.rail-btn[data-page=${n}]`).click()", name)
    await expect(page.locator(f"#page-{name}")).to_be_visible()


async def verified_visitor(kefu: Kefu, key: str, name: str) -> Socket:
    fields = {"name": name, "external_id": key, "signature": sign_external_id(IDENTITY_SECRET, key)}
    async with kefu.http.post(kefu.url("/api/v1/visitors"), json=fields) as resp:
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
    return await kefu.ws(token)


async def api(kefu: Kefu, method: str, path: str, token: str, body: Any = None) -> Any:
    status, answer = await kefu.request(method, path, token, body)
    assert status in (200, 201, 202), (path, status, answer)
    return answer


def behaviour(app: Any) -> Behaviour:
    knobs: Behaviour = app[BEHAVIOUR]
    return knobs


async def failed_refund(kefu: Kefu, token: str, systems: DepartmentSystems) -> dict[str, Any]:
    """A refund that stops ``failed`` while undoing: the CRM takes the points back (its
    answer held meanwhile), then the call center fails and so does giving the points back."""
    order = next(
        o for o in systems.dataset.orders if o.customer_key != "C1001" and o.status == "paid"
    )
    crm, calls = behaviour(systems.crm), behaviour(systems.callcenter)
    crm.set_write_knobs(hold_next_replies=1)
    started = await api(
        kefu,
        "POST",
        "/api/v1/sagas/refund",
        token,
        {"input": {"order_id": order.order_no, "amount": 1.0}, "customer_key": order.customer_key},
    )

    async def held() -> bool:
        return bool(crm.writes.held == 1)

    await until(held, "the CRM's take-back held")
    crm.set_write_knobs(fail_next_writes=1000)
    calls.set_write_knobs(fail_next_writes=1000)
    crm.release_replies()

    async def failed() -> bool:
        saga = await api(kefu, "GET", f"/api/v1/sagas/{started['saga_id']}", token)
        return bool(saga["status"] == "failed")

    await until(failed, "the refund failed")
    crm.set_write_knobs(fail_next_writes=0)
    calls.set_write_knobs(fail_next_writes=0)
    saga: dict[str, Any] = await api(kefu, "GET", f"/api/v1/sagas/{started['saga_id']}", token)
    return saga


async def tickets_for(kefu: Kefu, token: str, other_token: str) -> list[dict[str, Any]]:
    """Three tickets in Chinese: an urgent one past its first response (red), a high one
    the agent works (reply, internal note, open, queue), and a pending one (paused)."""
    urgent = await api(kefu, "POST", "/api/v1/tickets", token, {
        "customer_key": "C1001", "subject": "包裹显示已签收但没收到", "body": "快递单号查不到。",
        "priority": "urgent",
    })  # fmt: skip
    high = await api(kefu, "POST", "/api/v1/tickets", other_token, {
        "customer_key": "C1001", "subject": "发票抬头有误", "body": "请把抬头改成公司全称。",
        "priority": "high",
    })  # fmt: skip
    path = f"/api/v1/tickets/{high['id']}"
    for body, internal in (("已联系财务。", True), ("您好，正在处理。", False)):
        await api(kefu, "POST", f"{path}/comments", token, {"body": body, "internal": internal})
    await api(kefu, "PATCH", path, token, {"status": "open", "queue": "billing"})
    pending = await api(kefu, "POST", "/api/v1/tickets", token, {
        "customer_key": "C1001", "subject": "退货地址确认", "body": "等客户回复地址。",
    })  # fmt: skip
    await api(kefu, "PATCH", f"/api/v1/tickets/{pending['id']}", token, {"status": "pending"})
    return [urgent, high, pending]


async def test_tickets_360_sagas_reports_and_admin_pages_speak_chinese(
    kefu: Kefu, browser: Opener, systems: DepartmentSystems
) -> None:
    wang = await kefu.add_agent("王芳", Role.ADMIN, capacity=5)
    li_na = await kefu.add_agent("李娜", Role.AGENT)
    token = wang["token"]
    urgent, high, _ = await tickets_for(kefu, token, li_na["token"])
    failed = await failed_refund(kefu, token, systems)
    await api(kefu, "POST", "/api/v1/canned-replies", token, {
        "shortcut": "thanks", "title": "感谢", "body": "感谢您的耐心等待！",
    })  # fmt: skip
    await api(kefu, "POST", "/api/v1/auto-replies", token, {
        "keywords": ["营业时间"], "reply": "我们每天 9:00–21:00 在线。",
    })  # fmt: skip
    block = {"network": "203.0.113.7", "reason": "骚扰"}
    await api(kefu, "POST", "/api/v1/blacklist", token, block)

    # What comes from the systems and the accounts is data, shown as it is.
    data = data_strings(await api(kefu, "GET", "/api/v1/customers/C1001/360", token))
    data |= data_strings(failed) | {"C1001", ORDER, "crm", "orders", "callcenter", "billing"}
    data |= data_strings(await api(kefu, "GET", "/api/v1/agents", token))
    data |= {"thanks", "203.0.113.7"}

    page = await browser(width=1366, height=768, locale="zh-CN")
    await sign_in(page, kefu, wang["email"])
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"

    # ---- a chat: the 360, the side form, the refund dialog and its timeline ----------
    li = await verified_visitor(kefu, "C1001", "李伟")
    conversation = (await li.send_message("请帮我把订单退款"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation}"]').click()
    panel = page.locator(PANEL)
    await expect(panel.locator(".c360-name")).to_be_visible()
    await expect(panel.locator(".src-badge")).to_have_count(3)
    row = panel.locator(f'li[data-order="{ORDER}"]')
    await expect(row).to_contain_text("已付款")
    await expect(row).to_contain_text("¥1,165.00")
    await expect(panel.locator("[data-section=tickets]")).to_contain_text("工单")
    await no_english(page, PANEL, data)

    await row.get_by_role("button", name=f"退款 {ORDER}").click()
    dialog = page.get_by_role("dialog", name=TITLES["refund"])
    await expect(dialog.get_by_label("订单号")).to_have_value(ORDER)
    await expect(dialog.locator(".saga-undo").first).to_have_text("可撤销")
    await dialog.get_by_label("金额").fill("0")
    await dialog.get_by_role("button", name=f"确认：{TITLES['refund']}").click()
    await expect(dialog.get_by_role("alert")).to_have_text("金额不能小于 0.01。")
    await no_english(page, "#saga-dialog", data)
    await shot(page, "refund-dialog-1366")
    await dialog.get_by_label("金额").fill("１１６５")  # full-width, as a Chinese IME types
    await dialog.get_by_label("原因").fill("商品损坏")
    await dialog.get_by_role("button", name=f"确认：{TITLES['refund']}").click()
    card = panel.locator(".saga-card").first
    await expect(card).to_have_attribute("data-status", "completed", timeout=HANG_GUARD * 1000)
    await expect(card.locator(".saga-badge")).to_have_text("已完成")
    await expect(card.locator(".saga-progress")).to_have_text("已完成 4/4 步")
    await expect(row).to_contain_text("已退款")
    saga_ids = [s["id"] for s in (await api(kefu, "GET", "/api/v1/sagas", token))["items"]]
    data |= set(saga_ids) | {"商品损坏"}
    await card.scroll_into_view_if_needed()
    await no_english(page, PANEL, data)
    await shot(page, "360-refunded-1366")

    await page.locator("#ticket-btn").click()
    side = page.locator("#tk-side")
    await expect(side.locator("#tk-side-transcript li")).to_have_count(1)
    await expect(side.locator("#tk-side-priority")).to_have_value("normal")
    await expect(side.locator("#tk-side-priority option:checked")).to_have_text("普通")
    await no_english(page, "#tk-side", data | {"请帮我把订单退款"})
    await side.locator("#tk-side-cancel").click()

    # ---- an anonymous visitor: the 360 offers a lookup; full-width typing is folded ------
    async with kefu.http.post(kefu.url("/api/v1/visitors"), json={"name": "访客"}) as resp:
        assert resp.status == 201, await resp.text()
        guest = await kefu.ws((await resp.json())["token"])
    anonymous = (await guest.send_message("你好，我的订单呢？"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{anonymous}"]').click()
    find = panel.get_by_role("search", name="查找客户")
    await find.locator("#c360-value").fill("ｌｉ．ｗｅｉ＠ｅｘａｍｐｌｅ．ｃｏｍ")
    await find.get_by_role("button", name="查找").click()
    await expect(panel.locator('.c360-candidate[data-key="C1001"]')).to_contain_text("关联")
    # The lookup's placeholder is an example address, not a sentence.
    await no_english(page, PANEL, data | {"name@example.com"})
    await shot(page, "360-lookup-1366")
    await guest.close()

    for width, height in SIZES:
        size = f"{width}x{height}"
        await page.set_viewport_size({"width": width, "height": height})
        narrow = width < 720

        # ---- the chat's 360 (the drawer on a phone) -------------------------------------
        await show(page, "inbox")
        item = page.locator(f'#conv-list li[data-id="{conversation}"]')
        if await item.is_visible():  # a phone keeps the open chat instead of the list
            await item.click()
        if narrow:
            await page.locator("#details-btn").click()
        await expect(panel.locator(".c360-name")).to_be_visible()
        await no_english(page, PANEL, data)
        await no_overflow(page)
        await shot(page, f"360-{size}")

        # ---- tickets: the list, a worked ticket, its compact 360, the new form -------------
        await show(page, "tickets")
        rows = page.locator("#tk-list .tk-row")
        await expect(rows).to_have_count(4)  # and the refund's own ticket
        urgent_sla = page.locator(f'#tk-list .tk-row[data-id="{urgent["id"]}"] .sla')
        await expect(urgent_sla).to_contain_text("首次响应 · 已超时")
        await no_english(page, "#page-tickets", data)
        await shot(page, f"tickets-{size}")
        await page.locator(f'#tk-list .tk-row[data-id="{high["id"]}"]').click()
        view = page.locator("#tk-view")
        await expect(view.locator("#tk-subject")).to_have_text("发票抬头有误")
        await expect(view.locator(".tk-comment")).to_have_count(2)
        await expect(view.locator("#tk-history li").first).to_contain_text("修改了")
        await view.locator(".tk-cust-key").click()
        await expect(view.locator("#tk-customer .c360-name")).to_be_visible()
        await no_english(page, "#page-tickets", data)
        await no_overflow(page)
        await shot(page, f"ticket-{size}")
        if narrow:
            await view.locator(".tk-back").click()
        await page.locator("#tk-new-btn").click()
        await expect(page.locator("#tk-new-form")).to_be_visible()
        await no_english(page, "#page-tickets", data)
        await page.locator("#tk-new-cancel").click()

        # ---- sagas: the list and the failed saga's two ways out -------------------------
        await show(page, "sagas")
        sg_rows = page.locator("#sg-list li[data-saga]")
        await expect(sg_rows).to_have_count(2)
        await no_english(page, "#page-sagas", data)
        saga_row = page.locator(f'#sg-list li[data-saga="{failed["id"]}"] button')
        if await saga_row.is_visible():  # a phone still shows the saga opened before
            await saga_row.click()
        sg_view = page.locator("#sg-view")
        await expect(sg_view.get_by_role("button", name="重试")).to_be_visible()
        await expect(sg_view.get_by_role("button", name="补偿")).to_be_visible()
        await expect(sg_view.locator(".saga-badge").first).to_have_text("失败")
        # 名称 is the definition's title, not the config key "refund" (issue 14).
        name = sg_view.locator("dl.facts dt", has_text="名称").locator("xpath=following::dd[1]")
        await expect(name).to_have_text(TITLES["refund"])
        await no_english(page, "#page-sagas", data)
        await no_overflow(page)
        await shot(page, f"saga-failed-{size}")
        if narrow:
            await sg_view.locator(".tk-view-head .icon-btn").click()

        # ---- reports and the admin pages -----------------------------------------------
        await show(page, "reports")
        await expect(page.locator("#rp-tiles [data-tile]")).to_have_count(5)
        await expect(page.locator("#rp-chart svg")).to_have_attribute(
            "aria-label", "每日会话：新建 2，已关闭 0"
        )
        await no_english(page, "#page-reports", data)
        await no_overflow(page)
        await shot(page, f"reports-{size}")
        for name in ADMIN_PAGES:
            await show(page, name)
            if name in ("agents", "canned", "autoreplies", "blacklist"):
                await expect(page.locator(f"#page-{name} tbody tr").first).to_be_visible()
            if name == "autoreplies" and width == SIZES[0][0]:
                # Keywords listed the Chinese way (，) are split like the ASCII comma.
                form = page.locator("#auto-form")
                await form.locator("[name=keywords]").fill("退款，退货")
                await form.locator("[name=reply]").fill("退款请在订单页申请。")
                await form.locator("button[type=submit]").click()
                await expect(page.locator("#auto-rows")).to_contain_text("退款, 退货")
            await no_english(page, f"#page-{name}", data)
            await no_overflow(page)
            await shot(page, f"admin-{name}-{size}")
    await li.close()
