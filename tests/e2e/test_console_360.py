"""The console's Customer 360 panel in a real browser, against a real node whose ``sources:``
are the real simulated department systems (REST CRM, SQL orders, SOAP call center):

- a verified visitor's conversation shows the customer's profile, orders and calls with a
  badge per source, and *refresh* asks the systems again;
- an anonymous visitor's conversation offers a search; the agent links the customer found,
  sees the 360, and can unlink;
- with the call center failing or too slow, the rest of the 360 is still shown and the
  call center's badge says what happened.

Screenshots go to ``test-artifacts/`` (gitignored); ``console-360-showcase.png`` is the
README's ``docs/console.png``.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from kefu.demo_systems import requests_served
from kefu.demo_systems.dataset import build_dataset
from kefu.domain.roles import Role
from tests.e2e.conftest import browser, expected_errors, store_url
from tests.support import console_360
from tests.support.browser import Opener, next_message, sign_in
from tests.support.console_360 import (
    PANEL,
    TOO_SLOW_MS,
    Systems,
    badge,
    expect_li_wei,
    shot,
    visitor,
)
from tests.support.kefu import Kefu

# The simulated department systems as the node's sources (tests/support/console_360.py).
callcenter_behaviour = console_360.callcenter_behaviour
systems = console_360.systems
settings = console_360.settings
# browser, expected_errors and store_url stay readable here (H3's scratch file reads them
# through this module for now); they are conftest's fixtures.
__all__ = ["browser", "callcenter_behaviour", "expected_errors", "settings", "store_url", "systems"]


async def test_a_verified_customer_shows_their_360_and_refresh_asks_again(
    kefu: Kefu, browser: Opener, systems: Systems
) -> None:
    """Also the README's screenshot: a busy inbox with the 360 panel filled."""
    sam = await kefu.add_agent("Sam Carter", Role.ADMIN, capacity=3)
    page = await browser(height=1180)  # tall enough for the whole panel in the screenshot
    await sign_in(page, kefu, sam["email"])

    li = await visitor(
        kefu,
        name="Li Wei",
        email="li.wei@example.com",
        external_id="C1001",
        page_url="https://shop.example/orders/SO-100251",
        timezone="Asia/Shanghai",
        locale="zh-CN",
    )
    conversation_id = (await li.send_message("Hi, my order SO-100251 has not shipped yet."))[
        "conversation_id"
    ]
    eli = await visitor(kefu, name="Eli Brooks", page_url="https://shop.example/shipping")
    await eli.send_message("Do you ship to Canada?")
    faye = await visitor(kefu, name="Faye Wong", page_url="https://shop.example/p/7")
    await faye.send_message("Is the blue jacket back in stock in size M?")

    # Someone looked this customer up a moment ago: the first view is served from cache.
    status, warm = await kefu.get("/api/v1/customers/C1001/360", sam["token"])
    assert status == 200 and warm["customer"]["name"] == "Li Wei"
    crm_requests = requests_served(systems.crm)

    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()
    await expect_li_wei(page)
    panel = page.locator(PANEL)
    await expect(panel.locator(".src-badge")).to_have_count(3)
    for source in ("crm", "orders", "callcenter"):
        await expect(badge(page, source)).to_have_text(re.compile(rf"^{source} · cached "))
        await expect(badge(page, source)).to_have_class(re.compile(r"\bcached\b"))
        assert "cache" in (await badge(page, source).get_attribute("title") or "")
    calls = panel.locator("[data-section=calls] li[data-call]")
    await expect(calls).to_have_count(3)
    await expect(panel.locator("[data-section=calls]")).to_contain_text("Wang Xiaoling")
    await expect(panel.locator("[data-section=calls]")).to_contain_text("13:31")  # 811 s
    await expect(panel.locator("[data-section=calls]")).to_contain_text("offered a coupon")
    await expect(panel.locator("[data-section=tickets]")).to_contain_text("No tickets.")
    await expect(panel.locator(".c360-via")).to_contain_text("Verified")
    assert requests_served(systems.crm) == crm_requests  # nothing fetched: it was cached

    # Refresh bypasses the cache: every badge is live again, and the CRM was asked.
    await panel.get_by_role("button", name="Refresh").click()
    for source in ("crm", "orders", "callcenter"):
        await expect(badge(page, source)).to_have_text(
            re.compile(rf"^{source} · live (<1|\d+) ms$")
        )
        await expect(badge(page, source)).to_have_class(re.compile(r"\bok\b"))
    assert requests_served(systems.crm) > crm_requests
    await expect_li_wei(page)

    composer = page.get_by_label("Message", exact=True)
    await composer.fill("Hi Li Wei! SO-100251 is paid and leaves our warehouse today.")
    await composer.press("Enter")
    await next_message(li, "Hi Li Wei! SO-100251 is paid and leaves our warehouse today.")
    await li.send_message("Great, thank you!")
    await expect(page.locator("#messages")).to_contain_text("Great, thank you!")
    await shot(page, "showcase")
    for socket in (li, eli, faye):
        await socket.close()


async def test_an_agent_finds_and_links_an_anonymous_visitor(kefu: Kefu, browser: Opener) -> None:
    ann = await kefu.add_agent("Ann")
    page = await browser()
    await sign_in(page, kefu, ann["email"])
    guest = await visitor(kefu, name="Guest")
    conversation_id = (await guest.send_message("Where is my parcel?"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()

    panel = page.locator(PANEL)
    search = panel.get_by_role("search", name="Find customer")
    await expect(search).to_be_visible()
    await expect(panel.locator(".src-badge")).to_have_count(0)
    by = search.get_by_label("Search by")
    value = search.get_by_label("Search value")
    # Every lookup a source offers, and only those.
    options = await by.locator("option").all_text_contents()
    assert options == ["Email", "Phone", "Order number"]

    await value.fill("nobody@example.invalid")
    await search.get_by_role("button", name="Search").click()
    await expect(panel.locator(".c360-results")).to_contain_text("No customer found.")

    await by.select_option("email")
    await value.fill("li.wei@example.com")
    await search.get_by_role("button", name="Search").click()
    candidate = panel.locator('.c360-candidate[data-key="C1001"]')
    await expect(candidate).to_contain_text("Li Wei")
    await expect(candidate).to_contain_text("C1001 · crm")
    await shot(page, "find")

    await candidate.get_by_role("button", name="Link").click()
    await expect_li_wei(page)
    await expect(panel.locator(".src-badge")).to_have_count(3)
    await expect(panel.locator(".c360-via")).to_contain_text("Linked by an agent")
    status, summary = await kefu.get(f"/api/v1/conversations/{conversation_id}", ann["token"])
    assert status == 200
    assert summary["customer_key"] == "C1001" and summary["customer_linked"] is True
    await shot(page, "linked")

    # Unlink: the search is back, and the server forgot the link.
    await panel.get_by_role("button", name="Unlink").click()
    await expect(panel.get_by_role("search", name="Find customer")).to_be_visible()
    await expect(panel.locator(".c360-name")).to_have_count(0)
    status, summary = await kefu.get(f"/api/v1/conversations/{conversation_id}", ann["token"])
    assert summary["customer_key"] is None and summary["customer_linked"] is False

    # An order number finds its customer too.
    search = panel.get_by_role("search", name="Find customer")
    await search.get_by_label("Search by").select_option("order")
    await search.get_by_label("Search value").fill("SO-100251")
    await search.get_by_role("button", name="Search").click()
    await expect(panel.locator('.c360-candidate[data-key="C1001"]')).to_be_visible()

    # A customer with many orders: the five most recent, then all on request.
    orders = sorted(
        (o for o in build_dataset().orders if o.customer_key == "C1037"),
        key=lambda o: o.created_at,
        reverse=True,
    )
    assert len(orders) == 6
    await search.get_by_label("Search value").fill(orders[-1].order_no)
    await search.get_by_role("button", name="Search").click()
    await panel.locator('.c360-candidate[data-key="C1037"]').get_by_role("button").click()
    rows = panel.locator("[data-section=orders] li[data-order]")
    await expect(rows).to_have_count(5)
    ids = [await row.get_attribute("data-order") for row in await rows.all()]
    assert ids == [o.order_no for o in orders[:5]]
    await panel.get_by_role("button", name="Show all 6 orders").click()
    await expect(rows).to_have_count(6)
    await guest.close()


@pytest.mark.parametrize(
    ("callcenter_behaviour", "label", "colour"),
    [
        ({"failure_rate": 1.0}, "callcenter · unavailable", "error"),
        ({"latency_ms": TOO_SLOW_MS}, "callcenter · timed out", "timeout"),
    ],
    ids=["failing", "too-slow"],
)
async def test_the_360_survives_a_broken_call_center(
    kefu: Kefu, browser: Opener, label: str, colour: str
) -> None:
    bo = await kefu.add_agent("Bo")
    page = await browser()
    await sign_in(page, kefu, bo["email"])
    li = await visitor(kefu, name="Li Wei", external_id="C1001")
    conversation_id = (await li.send_message("Hello?"))["conversation_id"]
    await page.locator(f'#conv-list li[data-id="{conversation_id}"]').click()

    await expect_li_wei(page)
    await expect(badge(page, "callcenter")).to_have_text(label)
    await expect(badge(page, "callcenter")).to_have_class(re.compile(rf"\b{colour}\b"))
    assert await badge(page, "callcenter").get_attribute("title")
    await expect(badge(page, "crm")).to_have_class(re.compile(r"\bok\b"))
    await expect(badge(page, "orders")).to_have_class(re.compile(r"\bok\b"))
    calls = page.locator(f"{PANEL} [data-section=calls]")
    await expect(calls).to_contain_text("No calls found: callcenter did not answer.")
    # The other parts' systems answered: an empty part blames nobody.
    tickets = page.locator(f"{PANEL} [data-section=tickets] .c360-empty")
    await expect(tickets).to_have_text("No tickets.")
    await shot(page, f"callcenter-{colour}")
    await li.close()


@pytest.mark.parametrize("callcenter_behaviour", [{"latency_ms": TOO_SLOW_MS}], ids=["slow-360"])
async def test_a_late_360_never_lands_on_the_next_conversation(kefu: Kefu, browser: Opener) -> None:
    """The call center makes C1001's 360 take the whole deadline; the agent moves on first
    to a customer the systems do not know (quick: no phone, so no call center)."""
    cy = await kefu.add_agent("Cy")
    page = await browser()
    await sign_in(page, kefu, cy["email"])
    li = await visitor(kefu, name="Li Wei", external_id="C1001")
    slow = (await li.send_message("Hi"))["conversation_id"]
    newcomer = await visitor(kefu, name="Nova", external_id="C9999")
    quick = (await newcomer.send_message("Hello"))["conversation_id"]

    panel = page.locator(PANEL)
    slow_answer = asyncio.ensure_future(
        page.wait_for_event(
            "requestfinished", lambda request: "/customers/C1001/360" in request.url
        )
    )
    await page.locator(f'#conv-list li[data-id="{slow}"]').click()
    await expect(panel).to_have_attribute("aria-busy", "true")
    await expect(panel.locator(".src-badge.pending")).to_have_text("fetching…")
    await page.locator(f'#conv-list li[data-id="{quick}"]').click()
    await expect(panel.locator(".c360-profile")).to_have_text("No profile found for C9999.")
    # C1001's late answer has fully reached the page; a request the page makes after it
    # comes back after the page handled that answer.
    await slow_answer
    assert await page.evaluate("fetch('/healthz').then((r) => r.json())")
    await expect(panel.locator(".c360-profile")).to_have_text("No profile found for C9999.")
    await expect(panel.locator(".c360-name")).to_have_count(0)
    await expect(panel.locator("[data-section=orders]")).to_contain_text("No orders.")

    await page.locator(f'#conv-list li[data-id="{slow}"]').click()
    await expect_li_wei(page)
    await expect(badge(page, "callcenter")).to_have_text("callcenter · timed out")
    for socket in (li, newcomer):
        await socket.close()
