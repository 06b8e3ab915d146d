"""Fixtures of the browser tests: Chromium profiles for the console (``browser``), and the
widget's shop page, live node and page. Helpers they share are in ``tests/support/browser.py``
and ``tests/support/widget.py``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from kefu.config import load_settings
from kefu.web.shop import SITE_ID, ShopServer
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Opener
from tests.support.ports import free_port
from tests.support.widget import LiveKefu


@pytest.fixture
async def store_url(tmp_path: Path) -> str:
    """Browser tests check the console, not the store: SQLite only."""
    return f"sqlite:///{tmp_path / 'kefu.db'}"


@pytest.fixture
def expected_errors() -> list[re.Pattern[str]]:
    """Console errors a test provokes on purpose (Chromium logs a refused request as one);
    a test appends patterns, every other error fails it."""
    return []


@pytest.fixture
async def browser(tmp_path: Path, expected_errors: list[re.Pattern[str]]) -> AsyncIterator[Opener]:
    """Opens a fresh Chromium profile per call (one per agent), each its own session."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []  # script errors and CSP violations, from every page
    async with async_playwright() as playwright:

        async def open_page(width: int = 1440, height: int = 900, locale: str = "en-US") -> Page:
            """``locale``: the browser's language (navigator.languages, Accept-Language)."""
            profile = tmp_path / f"profile-{len(contexts)}"
            context = await playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": width, "height": height},
                locale=locale,
            )
            contexts.append(context)
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    errors.append(f"console: {msg.text} {msg.location}")
                    if msg.type == "error"
                    else None
                ),
            )
            return page

        yield open_page
        for context in contexts:
            await context.close()
    assert [e for e in errors if not any(p.search(e) for p in expected_errors)] == []


# ---- the widget's: a shop page of another origin, a live node, one page per test -------


@pytest.fixture
async def shop() -> AsyncIterator[ShopServer]:
    async with ShopServer("127.0.0.1", 0) as server:
        yield server


@pytest.fixture
async def live(tmp_path: Path, shop: ShopServer) -> AsyncIterator[LiveKefu]:
    settings = load_settings(
        None,
        data_dir=tmp_path / "data",
        store=f"sqlite:///{tmp_path / 'kefu.db'}",
        port=free_port(),
        sites=[{"id": SITE_ID, "name": "Demo shop", "origins": shop.origins}],
    )
    server = LiveKefu(settings)
    await server.start()
    shop.kefu_url = server.url
    yield server
    await server.stop()


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    """A fresh Chromium profile per test (Playwright takes the profile directory itself
    rather than as ``--user-data-dir``)."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 760},
        )
        opened = context.pages[0] if context.pages else await context.new_page()
        opened.on("dialog", _fail_on_dialog)
        opened.on("console", lambda m: print("CONSOLE", m.type, m.text))
        opened.on("requestfailed", lambda r: print("FAILED", r.url, r.failure))
        yield opened
        await context.close()


async def _fail_on_dialog(dialog: Any) -> None:  # pragma: no cover - only on a failure
    await dialog.dismiss()
    raise AssertionError(f"a dialog fired: {dialog.message}")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
