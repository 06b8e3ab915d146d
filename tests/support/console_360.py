"""The customer 360's browser tests and the Tickets pages' share: the simulated department
systems (CRM, call center, orders) as a node's sources, signed visitors, and what the
panel shows for Li Wei (C1001). Modules take the fixtures by assignment
(``systems = console_360.systems``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from kefu.auth.identity import sign_external_id
from kefu.config import Settings
from kefu.demo_systems import serve_app
from kefu.demo_systems.callcenter import running_callcenter
from kefu.demo_systems.crm import crm_app
from kefu.demo_systems.dataset import build_dataset
from kefu.demo_systems.orders import seed_orders
from kefu.demo_systems.sources import demo_sources
from tests.support.browser import ARTIFACTS
from tests.support.kefu import Kefu, Socket

IDENTITY_SECRET = "e2e-identity-secret-for-the-customer-360"
# The 360's deadline here: the default 800 ms is what a person waits, but a loaded test
# machine (two busy cores, several Chromiums) can keep a healthy local source past it.
DEADLINE_MS = 3000
# A call center slower than the deadline by far, so it times out however loaded the machine.
TOO_SLOW_MS = DEADLINE_MS + 3000
PANEL = "#customer-360"
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)


@dataclass
class Systems:
    sources: dict[str, Any]
    crm: web.Application


@pytest.fixture
def callcenter_behaviour() -> dict[str, float]:
    """Latency / failure knobs of the call center; a test parametrizes it to break it."""
    return {}


@pytest.fixture
async def systems(tmp_path: Path, callcenter_behaviour: dict[str, float]) -> AsyncIterator[Systems]:
    dataset = build_dataset()
    orders_url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    await seed_orders(orders_url, dataset)
    crm = crm_app(dataset)
    callcenter = running_callcenter(
        dataset=dataset,
        latency_ms=callcenter_behaviour.get("latency_ms", 0),
        failure_rate=callcenter_behaviour.get("failure_rate", 0),
    )
    async with serve_app(crm) as crm_url, callcenter as callcenter_url:
        yield Systems(demo_sources(crm_url, callcenter_url, orders_url), crm)


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], systems: Systems) -> Settings:
    return settings_factory(
        sources=systems.sources,
        auth={"identity_secret": IDENTITY_SECRET},
        customer360={"deadline_ms": DEADLINE_MS},
    )


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.mouse.move(0, 0)
    await page.screenshot(path=str(ARTIFACTS / f"console-360-{name}.png"))


async def visitor(kefu: Kefu, **fields: Any) -> Socket:
    """A visitor session; with ``external_id`` it is signed, as the host site's backend does."""
    if "external_id" in fields:
        fields["signature"] = sign_external_id(IDENTITY_SECRET, fields["external_id"])
    async with kefu.http.post(
        kefu.url("/api/v1/visitors"), json=fields, headers={"User-Agent": BROWSER_UA}
    ) as resp:
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
    return await kefu.ws(token)


def badge(page: Page, source: str) -> Any:
    return page.locator(f'{PANEL} .src-badge[data-source="{source}"]')


async def expect_li_wei(page: Page) -> None:
    """C1001's 360 is on screen: profile, tier, orders and calls."""
    panel = page.locator(PANEL)
    await expect(panel.locator(".c360-name")).to_have_text("Li Wei")
    await expect(panel.locator(".tier")).to_have_text("vip")
    await expect(panel.locator(".c360-facts")).to_contain_text("li.wei@example.com")
    await expect(panel.locator(".c360-facts")).to_contain_text("wholesale")
    orders = panel.locator("[data-section=orders] li[data-order]")
    await expect(orders.first).to_be_visible()
    order = panel.locator('li[data-order="SO-100251"]')
    await expect(order).to_contain_text("CN¥1,165.00")  # money through Intl, in en
