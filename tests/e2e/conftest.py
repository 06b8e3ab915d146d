"""Fixtures of the browser tests: one Chromium per test process (``chromium_server``), a
fresh context per agent for the console (``browser``), and the widget's shop page, live
node and page. Helpers they share are in ``tests/support/browser.py``
and ``tests/support/widget.py``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from kefu.config import load_settings
from kefu.web.shop import SITE_ID, ShopServer
from tests.support.browser import ARTIFACTS, ChromiumServer, Opener
from tests.support.ports import free_port
from tests.support.sqlite import copy_of
from tests.support.widget import LiveKefu

CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remembers on the item whether its call failed, so the page fixtures can keep a
    picture of what the browser showed then (a rare failure on a busy machine is
    otherwise gone without a trace)."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


async def keep_failure_pictures(request: pytest.FixtureRequest, pages: list[Page]) -> None:
    """Screenshots and the body's classes of ``pages`` in ``test-artifacts/failed-*``
    when the test's call failed; nothing otherwise."""
    if not request.node.stash.get(CALL_FAILED, False):
        return
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    for number, page in enumerate(pages):
        if page.is_closed():
            continue
        path = ARTIFACTS / f"failed-{name}-{number}.png"
        try:
            await page.screenshot(path=str(path))
            classes = await page.evaluate("() => document.body.className")
        except Exception as exc:  # the page may have crashed: that is the failure to report
            print(f"no picture of page {number}: {exc!r}")
            continue
        print(f"page {number} at failure: {path} (body class {classes!r})")


@pytest.fixture
def store_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Browser tests check the console, not the store: SQLite only (a copy of a migrated
    store, as the other tests' SQLite stores are)."""
    return copy_of(sqlite_template, tmp_path / "kefu.db")


@pytest.fixture
def expected_errors() -> list[re.Pattern[str]]:
    """Console errors a test provokes on purpose (Chromium logs a refused request as one);
    a test appends patterns, every other error fails it."""
    return []


@pytest.fixture(scope="session")
def chromium_server() -> Iterator[ChromiumServer]:
    """This test process's Chromium, launched once (``tests/support/browser.py``)."""
    server = ChromiumServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def chromium(chromium_server: ChromiumServer) -> AsyncIterator[Browser]:
    """The process's Chromium, connected for this test; the contexts the test opened are
    closed with the connection, the browser keeps running for the next test."""
    async with async_playwright() as playwright:
        connected = await playwright.chromium.connect(chromium_server.endpoint(), timeout=60_000)
        yield connected
        await connected.close()


@pytest.fixture
async def browser(
    chromium: Browser, expected_errors: list[re.Pattern[str]], request: pytest.FixtureRequest
) -> AsyncIterator[Opener]:
    """Opens a fresh browser context per call (one per agent), each its own session:
    cookies, storage and cache of its own, as a fresh profile has."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []  # script errors and CSP violations, from every page

    async def open_page(width: int = 1440, height: int = 900, locale: str = "en-US") -> Page:
        """``locale``: the browser's language (navigator.languages, Accept-Language)."""
        context = await chromium.new_context(
            viewport={"width": width, "height": height}, locale=locale
        )
        contexts.append(context)
        page = await context.new_page()
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
    await keep_failure_pictures(request, [p for c in contexts for p in c.pages])
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
async def page(chromium: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh browser context per test (as isolated as a fresh profile)."""
    context = await chromium.new_context(viewport={"width": 1100, "height": 760})
    opened = await context.new_page()
    opened.on("dialog", _fail_on_dialog)
    opened.on("console", lambda m: print("CONSOLE", m.type, m.text))
    opened.on("requestfailed", lambda r: print("FAILED", r.url, r.failure))
    yield opened
    await keep_failure_pictures(request, [opened])
    await context.close()


async def _fail_on_dialog(dialog: Any) -> None:  # pragma: no cover - only on a failure
    await dialog.dismiss()
    raise AssertionError(f"a dialog fired: {dialog.message}")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
