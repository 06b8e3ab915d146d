"""Fixtures of the browser tests: Chromium profiles for the console (``browser``), and the
widget's shop page, live node and page. Helpers they share are in ``tests/support/browser.py``
and ``tests/support/widget.py``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Opener


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

        async def open_page(width: int = 1440, height: int = 900) -> Page:
            profile = tmp_path / f"profile-{len(contexts)}"
            context = await playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": width, "height": height},
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
