"""What the widget's browser tests share: a kefu node on a fixed real port that can be
stopped and started again, and the visitor's moves in the widget. Their fixtures (shop,
live, page, http) are in ``tests/e2e/conftest.py``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from playwright.async_api import Page, expect

from kefu.bootstrap import running_node
from kefu.config import Settings, load_settings
from kefu.domain.roles import Role
from kefu.node import Node
from kefu.server import create_app
from kefu.web.shop import SITE_ID, ShopServer
from tests.support.browser import ARTIFACTS
from tests.support.kefu import PASSWORD, PASSWORD_HASH
from tests.support.ports import free_port


class LiveKefu:
    """A kefu node on a fixed real port that can be stopped and started again."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.port}"
        self.node: Node | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def start(self) -> None:
        stack = contextlib.AsyncExitStack()
        self.node = await stack.enter_async_context(running_node(self.settings))
        runner = web.AppRunner(create_app(self.node), access_log=None, shutdown_timeout=1)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", self.settings.port, reuse_address=True).start()
        self._stack = stack

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def agent(self, http: aiohttp.ClientSession, name: str = "Alex") -> dict[str, Any]:
        assert self.node is not None
        email = f"{name.lower()}@shop.test"
        if await self.node.repos.agents.by_email(email) is None:
            await self.node.repos.agents.create(
                email=email,
                name=name,
                role=Role.AGENT,
                password_hash=PASSWORD_HASH,
                now=self.node.clock.now(),
            )
        async with http.post(
            self.url + "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
        return {"token": body["token"], **body["agent"]}


@contextlib.asynccontextmanager
async def closed_today(
    tmp_path: Path, shop: ShopServer, *, site_name: str | None = None
) -> AsyncIterator[LiveKefu]:
    """A node whose chat opens 09:00-17:00 UTC every day but today (a holiday), serving
    the shop's widget: the office-hours tests' closed state, whatever the time of day."""
    site: dict[str, Any] = {"id": SITE_ID, "origins": shop.origins}
    if site_name is not None:
        site["name"] = site_name
    settings = load_settings(
        None,
        data_dir=tmp_path / "data-closed",
        store=f"sqlite:///{tmp_path / 'kefu-closed.db'}",
        port=free_port(),
        sites=[site],
        chat={
            "office_hours": {
                "timezone": "UTC",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "09:00",
                "end": "17:00",
                "holidays": [datetime.now(UTC).date().isoformat()],
            }
        },
    )
    server = LiveKefu(settings)
    await server.start()
    shop.kefu_url = server.url
    try:
        yield server
    finally:
        await server.stop()


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


async def open_widget(page: Page, shop: ShopServer) -> None:
    await page.goto(shop.url + "/")
    await page.get_by_role("button", name="Open chat").click()
    await expect(page.get_by_role("dialog")).to_be_visible()


async def visitor_says(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


def bubble(page: Page, text: str) -> Any:
    return page.locator(".msg", has_text=text)
