"""Two kefu nodes in real browsers: the visitor's widget talks to node A, the agent's
console to node B (one PostgreSQL, one NATS). What an agent sees must not depend on which
node a load balancer picked for whom.

Screenshots go to ``test-artifacts/cluster-*.png``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from kefu.config import load_settings
from kefu.domain.roles import Role
from kefu.web.shop import SITE_ID, ShopServer
from tests.support.browser import ARTIFACTS
from tests.support.kefu import PASSWORD, PASSWORD_HASH
from tests.support.nats import NatsServer
from tests.support.ports import free_port
from tests.support.postgres import postgres_database
from tests.support.widget import LiveKefu, bubble, open_widget, visitor_says


@pytest.fixture
async def nodes(
    tmp_path: Path, nats: NatsServer, shop: ShopServer
) -> AsyncIterator[tuple[LiveKefu, LiveKefu]]:
    secret = secrets.token_hex(32)
    subject = f"kefu.live.e{secrets.token_hex(4)}"
    async with postgres_database() as store:
        started: list[LiveKefu] = []
        try:
            for name in ("a", "b"):
                node = LiveKefu(
                    load_settings(
                        None,
                        data_dir=tmp_path / name,
                        store=store,
                        bus=nats.url,
                        port=free_port(),
                        cluster={"subject": subject},
                        auth={"secret_key": secret},
                        sites=[{"id": SITE_ID, "name": "Demo shop", "origins": shop.origins}],
                    )
                )
                await node.start()
                started.append(node)
            shop.kefu_url = started[0].url  # the widget talks to node A
            yield started[0], started[1]
        finally:
            for node in reversed(started):
                await node.stop()


@pytest.fixture
async def pages(chromium: Browser) -> AsyncIterator[tuple[Page, Page]]:
    """The visitor's and the agent's page, each in a fresh context of its own."""
    opened = []
    for _ in ("visitor", "agent"):
        context = await chromium.new_context(viewport={"width": 1200, "height": 800})
        page = await context.new_page()
        page.set_default_timeout(10_000)
        opened.append((context, page))
    yield opened[0][1], opened[1][1]
    for context, _ in opened:
        await context.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"cluster-{name}.png"))


async def test_a_widget_on_node_a_and_a_console_on_node_b_chat_live(
    nodes: tuple[LiveKefu, LiveKefu], shop: ShopServer, pages: tuple[Page, Page]
) -> None:
    _, b = nodes  # the widget talks to node A through the shop page
    visitor_page, agent_page = pages
    assert b.node is not None
    await b.node.repos.agents.create(
        email="bea@shop.test",
        name="Bea",
        role=Role.AGENT,
        password_hash=PASSWORD_HASH,
        now=b.node.clock.now(),
    )
    await agent_page.goto(b.url + "/console")
    form = agent_page.locator("#login-form")
    await form.get_by_label("Email").fill("bea@shop.test")
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(agent_page.locator("#conn-state")).to_have_text("online")

    await open_widget(visitor_page, shop)
    await visitor_says(visitor_page, "Hello from the shop (node A)")

    # Node A assigns it to Bea, online on node B; her console shows it live.
    row = agent_page.locator("#conv-list li").first
    await expect(row).to_contain_text("Visitor")
    await row.click()
    messages = agent_page.locator("#messages")
    await expect(messages).to_contain_text("Hello from the shop (node A)")
    # Nobody told the visitor that no agent was online (node A asked the store).
    await expect(visitor_page.get_by_text("Nobody is online")).to_have_count(0)

    composer = agent_page.get_by_label("Message", exact=True)
    await composer.fill("Hi! Bea here, answering from node B.")
    await composer.press("Enter")
    await expect(bubble(visitor_page, "Bea here, answering from node B")).to_be_visible()
    await expect(messages.locator(".msg.agent.pending")).to_have_count(0)

    await visitor_says(visitor_page, "Great, thanks!")
    await expect(messages).to_contain_text("Great, thanks!")
    await shot(visitor_page, "widget-on-a")
    await shot(agent_page, "console-on-b")
