"""Sagas in the console, in Chromium, against a real node whose refund saga (the one
``kefu demo`` ships, its retries made quick) runs against the real demo simulators: the
order system's API over its SQLite tables, the CRM's loyalty points, the call center's
SOAP notes.

- An agent refunds an order from the conversation's 360 panel: the confirm dialog shows
  the saga's title, its input and every step (whether it can be undone); a double click on
  Confirm starts one saga; the timeline follows it live (a step held by the order system
  shows ``running`` until released) to ``completed``, and the order reads ``refunded``.
- Bad input is refused in the dialog and starts nothing. A step that keeps failing (the
  call center's failure knob): the timeline shows the compensation in reverse to
  ``compensated``, the systems' records are back, and a supervisor follows "Open in Sagas".
- A supervisor's Sagas page: filters, "load more", a saga started elsewhere joining the top
  live, failed sagas' details with Retry (a 409 when someone else acted first is said in
  words) and Compensate; an agent has no Sagas page.
- Screenshots at 1280x800, 1366x768 and 375x812 go to ``test-artifacts/``; nothing sticks
  out sideways at any of them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, Route, expect

from kefu.auth.identity import sign_external_id
from kefu.config import Settings
from kefu.demo_systems import BEHAVIOUR, Behaviour
from kefu.demo_systems.crm import points_balance
from kefu.demo_systems.orders_api import read_order
from kefu.demo_systems.refund_saga import demo_sagas
from kefu.demo_systems.sources import demo_sources
from kefu.domain.roles import Role
from tests.support.browser import ARTIFACTS, Opener, sign_in, until
from tests.support.department_systems import DepartmentSystems, department_systems
from tests.support.kefu import Kefu, Socket

IDENTITY_SECRET = "e2e-identity-secret-for-the-sagas"
PANEL = "#customer-360"
HANG_GUARD = 60.0  # seconds: only a stuck saga takes that long
SIZES = {"1280": (1280, 800), "1366": (1366, 768), "375": (375, 812)}
ORDER = "SO-100251"  # C1001's paid order, 1,165.00 CNY
STEPS = ["refund_order", "take_back_points", "log_call_note", "comment_ticket"]
DONE = re.compile(r"^(completed|compensated|failed)$")


@pytest.fixture
async def systems(tmp_path: Path) -> AsyncIterator[DepartmentSystems]:
    async with department_systems(f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}") as running:
        yield running


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], systems: DepartmentSystems) -> Settings:
    return settings_factory(
        sources=demo_sources(systems.crm_url, systems.callcenter_url, systems.orders_db),
        sagas=saga_config(systems),
        auth={"identity_secret": IDENTITY_SECRET},
        customer360={"deadline_ms": 5000},
    )


def saga_config(systems: DepartmentSystems) -> dict[str, Any]:
    """``kefu demo``'s refund saga against these simulators, its retries quick (a failing
    step gives up in well under a second), and ``goodwill``: one step on kefu itself (a
    ticket), to fill the Sagas page cheaply."""
    sagas = demo_sagas(systems.orders_url)
    for step in sagas["refund"]["steps"]:
        step["retry"] = {"attempts": 3, "backoff_seconds": 0.05, "max_backoff_seconds": 0.1}
    sagas["goodwill"] = {
        "title": "Open a goodwill ticket",
        "input": {"note": {"type": "string", "required": True}},
        "steps": [
            {
                "name": "open_ticket",
                "title": "Open a ticket for the gesture",
                "action": {
                    "kind": "kefu",
                    "op": "ticket_create",
                    "subject": "Goodwill: {input.note}",
                    "body": "A goodwill gesture: {input.note}",
                },
            }
        ],
    }
    return sagas


def behaviour(app: Any) -> Behaviour:
    knobs: Behaviour = app[BEHAVIOUR]
    return knobs


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(ARTIFACTS / f"console-sagas-{name}.png"))


async def no_overflow(page: Page) -> None:
    """Nothing sticks out sideways: the page is as wide as the window."""
    width = await page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width


async def verified_visitor(kefu: Kefu, key: str, name: str) -> Socket:
    fields = {"name": name, "external_id": key, "signature": sign_external_id(IDENTITY_SECRET, key)}
    async with kefu.http.post(kefu.url("/api/v1/visitors"), json=fields) as resp:
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
    return await kefu.ws(token)


async def open_customer(page: Page, kefu: Kefu, key: str, name: str, narrow: bool) -> Socket:
    """A verified visitor's conversation, opened with its 360 panel on screen."""
    socket = await verified_visitor(kefu, key, name)
    conversation_id = (await socket.send_message("Please refund my order"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    if narrow:  # the phone shows the panel on request
        await page.get_by_role("button", name="Visitor details").click()
    await expect(page.locator(f"{PANEL} .c360-name")).to_have_text(name)
    return socket


async def start_api(kefu: Kefu, token: str, name: str, key: str, **input: Any) -> str:
    status, body = await kefu.post(
        f"/api/v1/sagas/{name}", token, {"input": input, "customer_key": key}
    )
    assert status == 202, body
    saga_id: str = body["saga_id"]
    return saga_id


async def saga_of(kefu: Kefu, token: str, saga_id: str) -> dict[str, Any]:
    status, body = await kefu.get(f"/api/v1/sagas/{saga_id}", token)
    assert status == 200, body
    saga: dict[str, Any] = body
    return saga


async def ended(kefu: Kefu, token: str, saga_id: str, status: str) -> dict[str, Any]:
    async def there() -> bool:
        return bool((await saga_of(kefu, token, saga_id))["status"] == status)

    await until(there, f"{saga_id} {status}")
    return await saga_of(kefu, token, saga_id)


def step(card: Locator, name: str) -> Locator:
    return card.locator(f'.saga-step[data-step="{name}"]')


async def expect_steps(card: Locator, *statuses: str) -> None:
    for name, status in zip(STEPS, statuses, strict=True):
        await expect(step(card, name)).to_have_attribute("data-status", status)


# ---- the 360 panel: refund, confirm, live timeline -------------------------------------


@pytest.mark.parametrize("size", list(SIZES))
async def test_an_agent_refunds_an_order_and_watches_it_complete(
    kefu: Kefu, browser: Opener, systems: DepartmentSystems, size: str
) -> None:
    width, height = SIZES[size]
    narrow = width < 720
    ann = await kefu.add_agent("Ann Lee", capacity=3)
    page = await browser(width=width, height=height)
    await sign_in(page, kefu, ann["email"])
    li = await open_customer(page, kefu, "C1001", "Li Wei", narrow)
    points_before = points_balance(systems.crm, "C1001")
    panel = page.locator(PANEL)
    row = panel.locator(f'li[data-order="{ORDER}"]')
    await expect(row).to_contain_text("paid")
    # An order the order system would refuse has no Refund.
    await expect(panel.locator('li[data-order="SO-100238"]')).to_contain_text("cancelled")
    await expect(panel.locator('li[data-order="SO-100238"] .saga-refund')).to_have_count(0)

    await row.get_by_role("button", name=f"Refund {ORDER}").click()
    dialog = page.get_by_role("dialog", name="Refund an order")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_label("Order ID")).to_have_value(ORDER)
    await expect(dialog.get_by_label("Order ID")).not_to_be_editable()
    await expect(dialog.get_by_label("Amount")).to_have_value("1165.00")
    await expect(dialog).to_contain_text("CNY")
    plan = dialog.locator(".saga-plan-step")
    await expect(plan).to_have_count(4)
    assert [await p.get_attribute("data-step") for p in await plan.all()] == STEPS
    definitions = (await kefu.get("/api/v1/saga-definitions", ann["token"]))[1]["items"]
    refund = next(d for d in definitions if d["name"] == "refund")
    for declared in refund["steps"]:
        item = dialog.locator(f'.saga-plan-step[data-step="{declared["name"]}"]')
        await expect(item).to_contain_text(declared["title"])
        undo = "can be undone" if declared["compensable"] else "cannot be undone"
        await expect(item.locator(".saga-undo")).to_have_text(undo)
    await dialog.get_by_label("Reason").fill("Arrived broken")
    await no_overflow(page)
    box = await dialog.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
    await shot(page, f"dialog-{size}")

    # The order system holds its answer: the first step is seen running, live.
    orders = behaviour(systems.orders)
    orders.set_write_knobs(hold_next_replies=1)
    await dialog.get_by_role("button", name="Confirm: Refund an order").dblclick()
    await expect(dialog).to_be_hidden()
    card = panel.locator(".saga-card").first
    await expect(card).to_have_attribute("data-status", "running")
    await expect_steps(card, "running", "pending", "pending", "pending")
    await until(lambda: _held(orders), "the refund held by the order system")
    await shot(page, f"running-{size}")
    orders.release_replies()
    await expect(card).to_have_attribute("data-status", "completed", timeout=HANG_GUARD * 1000)
    await expect_steps(card, "done", "done", "done", "done")
    await expect(card.locator(".saga-badge")).to_have_text("completed")
    await expect(card.locator(".saga-progress")).to_have_text("4 of 4 steps done")

    # One saga for the double click, applied once; the systems' own records say refunded.
    status, page_ = await kefu.get("/api/v1/sagas?customer_key=C1001", ann["token"])
    assert status == 200 and len(page_["items"]) == 1, page_
    saga = page_["items"][0]
    assert saga["input"] == {"order_id": ORDER, "amount": 1165, "reason": "Arrived broken"}
    assert await card.get_attribute("data-saga") == saga["id"]
    assert orders.writes.applied_more_than_once() == 0
    order = await read_order(systems.orders, ORDER)
    assert order is not None and order["status"] == "refunded"
    assert points_balance(systems.crm, "C1001") == max(0, (points_before or 0) - 1165)
    # The panel read the customer again: the order is refunded, and has no Refund now.
    await expect(row).to_contain_text("refunded")
    await expect(row.locator(".saga-refund")).to_have_count(0)
    await expect(panel.get_by_role("button", name="Open in Sagas")).to_have_count(0)  # agents
    await card.scroll_into_view_if_needed()
    await no_overflow(page)
    await shot(page, f"completed-{size}")
    await li.close()


async def _held(knobs: Behaviour) -> bool:
    return knobs.writes.held == 1


async def test_a_failing_step_is_undone_in_reverse_on_the_timeline(
    kefu: Kefu, browser: Opener, systems: DepartmentSystems
) -> None:
    bo = await kefu.add_agent("Bo Chen", Role.SUPERVISOR, capacity=3)
    page = await browser(width=1366, height=768)
    await sign_in(page, kefu, bo["email"])
    li = await open_customer(page, kefu, "C1001", "Li Wei", narrow=False)
    points_before = points_balance(systems.crm, "C1001")
    calls = behaviour(systems.callcenter)
    # The call center refuses the note on every try (3), then is back for the undoing:
    # a failed attempt may have applied, so the note's removal is part of the undoing.
    calls.set_write_knobs(fail_next_writes=3)

    panel = page.locator(PANEL)
    await panel.get_by_role("button", name=f"Refund {ORDER}").click()
    dialog = page.get_by_role("dialog", name="Refund an order")
    # Bad input is said in the dialog and starts nothing.
    amount = dialog.get_by_label("Amount")
    await amount.fill("0")
    await dialog.get_by_role("button", name="Confirm: Refund an order").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Amount must be at least 0.01.")
    await expect(amount).to_be_focused()
    status, none = await kefu.get("/api/v1/sagas?customer_key=C1001", bo["token"])
    assert status == 200 and none["items"] == []
    await amount.fill("1165")
    await dialog.get_by_role("button", name="Confirm: Refund an order").click()
    card = panel.locator(".saga-card").first
    await expect(card).to_have_attribute("data-status", "compensated", timeout=HANG_GUARD * 1000)
    await expect_steps(card, "compensated", "compensated", "compensated", "skipped")
    await expect(card.locator(".saga-badge")).to_have_text("compensated")
    await expect(card.locator(".saga-progress")).to_have_text("3 of 3 undone")
    failed = step(card, "log_call_note")
    await expect(failed.locator(".saga-step-meta")).to_contain_text("3 attempts · undo: 1 attempt")
    await expect(step(card, "refund_order").locator(".saga-step-meta")).to_contain_text(
        "undo: 1 attempt"
    )
    # Every system is back where it started.
    order = await read_order(systems.orders, ORDER)
    assert order is not None and order["status"] == "paid"
    assert points_balance(systems.crm, "C1001") == points_before
    await expect(panel.locator(f'li[data-order="{ORDER}"]')).to_contain_text("paid")
    await card.scroll_into_view_if_needed()
    await shot(page, "compensated-1366")

    # A supervisor goes from the panel to the customer's sagas on the Sagas page.
    await panel.get_by_role("button", name="Open in Sagas").click()
    await expect(page.locator("#page-sagas")).to_be_visible()
    filters = page.get_by_role("search", name="Filter sagas")
    await expect(filters.get_by_label("Customer")).to_have_value("C1001")
    rows = page.locator("#sg-list li[data-saga]")
    await expect(rows).to_have_count(1)
    await expect(rows.locator(".saga-badge")).to_have_text("compensated")
    await li.close()


# ---- the Sagas page --------------------------------------------------------------------


async def failed_saga(
    kefu: Kefu, token: str, systems: DepartmentSystems, key: str, order: str
) -> str:
    """A refund that stops ``failed``: the CRM takes the points back (its answer held
    meanwhile), then the call center fails and so does giving the points back."""
    crm, calls = behaviour(systems.crm), behaviour(systems.callcenter)
    crm.set_write_knobs(hold_next_replies=1)
    total = next(o.total for o in systems.dataset.orders if o.order_no == order)
    saga_id = await start_api(kefu, token, "refund", key, order_id=order, amount=float(total))
    await until(lambda: _held(crm), "the CRM's take-back held")
    crm.set_write_knobs(fail_next_writes=1000)
    calls.set_write_knobs(fail_next_writes=1000)
    crm.release_replies()
    await ended(kefu, token, saga_id, "failed")
    crm.set_write_knobs(fail_next_writes=0)
    calls.set_write_knobs(fail_next_writes=0)
    return saga_id


def refund_orders(systems: DepartmentSystems, customers: int) -> list[tuple[str, str]]:
    """(customer, order) pairs: one refundable order of each of the first customers."""
    found: dict[str, str] = {}
    for order in systems.dataset.orders:
        if order.status in ("paid", "shipped", "delivered") and order.customer_key not in found:
            found[order.customer_key] = order.order_no
    return sorted(found.items())[:customers]


async def test_a_supervisor_filters_sagas_and_retries_a_failed_one(
    kefu: Kefu, browser: Opener, systems: DepartmentSystems, expected_errors: list[re.Pattern[str]]
) -> None:
    sue = await kefu.add_agent("Sue Park", Role.SUPERVISOR)
    max_ = await kefu.add_agent("Max Wu", Role.SUPERVISOR)
    (ok_key, ok_order), (bad_key, bad_order), (late_key, late_order), (undo_key, undo_order) = (
        refund_orders(systems, 4)
    )
    completed = await start_api(kefu, sue["token"], "refund", ok_key, order_id=ok_order, amount=1.0)
    await ended(kefu, sue["token"], completed, "completed")
    failed = await failed_saga(kefu, sue["token"], systems, bad_key, bad_order)
    other = await failed_saga(kefu, sue["token"], systems, late_key, late_order)
    undo = await failed_saga(kefu, sue["token"], systems, undo_key, undo_order)
    for n in range(24):  # more than a page (25) in all
        await start_api(kefu, sue["token"], "goodwill", "C2000", note=f"voucher {n}")

    page = await browser(width=1280, height=800)
    await sign_in(page, kefu, sue["email"])
    await page.get_by_role("button", name="Sagas").click()
    rows = page.locator("#sg-list li[data-saga]")
    await expect(rows).to_have_count(25)
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(28)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    # Newest first: the goodwill notes, then the refunds from the latest.
    ids = [await r.get_attribute("data-saga") for r in (await rows.all())[-4:]]
    assert ids == [undo, other, failed, completed]

    filters = page.get_by_role("search", name="Filter sagas")
    await filters.get_by_label("Status").select_option("failed")
    await expect(rows).to_have_count(3)
    await filters.get_by_label("Customer").fill(bad_key)
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-saga", failed)
    await filters.get_by_label("Status").select_option("")
    await filters.get_by_label("Customer").fill("")
    await filters.get_by_label("Name").select_option("refund")
    await expect(rows).to_have_count(4)
    await filters.get_by_label("Name").select_option("goodwill")
    await expect(rows).to_have_count(24)
    await filters.get_by_label("Name").select_option("")
    await filters.get_by_label("Status").select_option("failed")
    await expect(rows).to_have_count(3)
    await shot(page, "page-1280")

    # Someone else compensates `other` while Sue's Retry is on its way: a 409, in words.
    expected_errors.append(re.compile(r"409 \(Conflict\)"))
    await page.locator(f'#sg-list li[data-saga="{other}"] button').click()
    view = page.locator("#sg-view")
    await expect(view).to_have_attribute("data-status", "failed")
    await expect(view.locator(".saga-step.step-failed")).not_to_have_count(0)
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await page.route(f"**/api/v1/sagas/{other}/retry", hold)
    await view.get_by_role("button", name="Retry").click()
    status, _ = await kefu.post(f"/api/v1/sagas/{other}/compensate", max_["token"])
    assert status == 200
    release.set()
    await expect(view.get_by_role("alert")).to_contain_text("Cannot retry it now")
    await expect(view).to_have_attribute("data-status", "compensated", timeout=HANG_GUARD * 1000)

    # Retry on the other failed saga: it finishes undoing, live.
    await page.locator(f'#sg-list li[data-saga="{failed}"] button').click()
    await expect(view).to_have_attribute("data-saga", failed)
    await expect(view.get_by_role("button", name="Compensate")).to_be_enabled()
    # The facts name the saga by its definition's title, not its config key (issue 14).
    name = view.locator("dl.facts dt", has_text="Name").locator("xpath=following-sibling::dd[1]")
    await expect(name).to_have_text("Refund an order")
    await shot(page, "failed-1280")
    await view.get_by_role("button", name="Retry").click()
    await expect(view).to_have_attribute("data-status", "compensated", timeout=HANG_GUARD * 1000)
    await expect(view.get_by_role("button", name="Retry")).to_have_count(0)
    await expect(view.locator(".saga-badge").first).to_have_text("compensated")
    order = await read_order(systems.orders, bad_order)
    assert order is not None and order["status"] != "refunded"
    await shot(page, "retried-1280")

    # Compensate, after a confirm, undoes the third one.
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.locator(f'#sg-list li[data-saga="{undo}"] button').click()
    await expect(view).to_have_attribute("data-saga", undo)
    await view.get_by_role("button", name="Compensate").click()
    await expect(view).to_have_attribute("data-status", "compensated", timeout=HANG_GUARD * 1000)
    await expect(view.locator(".saga-progress")).to_have_text("3 of 3 undone")
    order = await read_order(systems.orders, undo_order)
    assert order is not None and order["status"] != "refunded"

    # A saga started anywhere joins the top of the list live, when it matches the filters.
    await filters.get_by_label("Status").select_option("")
    await expect(rows).to_have_count(25)
    fresh = await start_api(kefu, max_["token"], "goodwill", "C2001", note="late voucher")
    await expect(rows.first).to_have_attribute("data-saga", fresh)
    await expect(rows.first.locator(".saga-badge")).to_have_text("completed")


@pytest.mark.parametrize("size", ["1366", "375"])
async def test_the_sagas_page_fits_and_agents_do_not_see_it(
    kefu: Kefu, browser: Opener, systems: DepartmentSystems, size: str
) -> None:
    width, height = SIZES[size]
    sue = await kefu.add_agent("Sue Park", Role.SUPERVISOR)
    ann = await kefu.add_agent("Ann Lee")
    (key, order), *_ = refund_orders(systems, 1)
    failed = await failed_saga(kefu, sue["token"], systems, key, order)

    agent_page = await browser(width=width, height=height)
    await sign_in(agent_page, kefu, ann["email"])
    await expect(agent_page.get_by_role("button", name="Tickets")).to_be_visible()
    await expect(agent_page.get_by_role("button", name="Sagas")).to_be_hidden()
    await expect(agent_page.locator("#page-sagas")).to_be_hidden()

    page = await browser(width=width, height=height)
    await sign_in(page, kefu, sue["email"])
    if width < 720:  # a phone's bottom bar keeps the pages beyond the inbox under More
        await page.get_by_role("button", name="More", exact=True).click()
    await page.get_by_role("button", name="Sagas").click()
    row = page.locator(f'#sg-list li[data-saga="{failed}"]')
    await expect(row.locator(".saga-badge")).to_have_text("failed")
    await no_overflow(page)
    await shot(page, f"page-{size}")
    await row.locator("button").click()
    view = page.locator("#sg-view")
    await expect(view.get_by_role("button", name="Retry")).to_be_visible()
    await expect(view.locator(".saga-step")).to_have_count(4)
    await no_overflow(page)
    await shot(page, f"detail-{size}")
    if width < 720:  # the phone shows the list or the saga: back to the list
        await view.get_by_role("button", name="Back to the sagas").click()
        await expect(row).to_be_visible()
