"""Chromium for the browser tests: Debian's binary driven by Playwright, and what the
console tests share (signing in, screenshots, waiting for a visitor's message).

The fixtures that open browsers live in ``tests/e2e/conftest.py``; this module holds
what test modules import (no test module imports another)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from kefu.domain.roles import Role
from tests.support.kefu import PASSWORD, Kefu, Socket

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():  # fail loudly: a skipped browser test would hide a gap
    raise RuntimeError("Debian's chromium is missing: run `make test`, which installs it")

# The ``browser`` fixture: opens a fresh Chromium profile per call (one per agent).
Opener = Callable[..., Awaitable[Page]]


async def shot(page: Page, name: str) -> None:
    """A console screenshot in ``test-artifacts/`` (gitignored) for a human look."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"))


async def sign_in(page: Page, kefu: Kefu, email: str) -> None:
    """Sign in to the console and wait until its socket is online."""
    await page.goto(kefu.url("/console"))
    form = page.locator("#login-form")
    await form.get_by_label("Email").fill(email)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#conn-state")).to_have_text("online")


async def agent(kefu: Kefu, name: str, role: Role = Role.AGENT) -> dict[str, Any]:
    return await kefu.add_agent(name, role)


async def next_message(socket: Socket, body: str) -> dict[str, Any]:
    """The next ``message.new`` carrying ``body`` (others on the way are skipped)."""
    while True:
        frame = await socket.expect("message.new", timeout=10)
        if frame["message"]["body"] == body:
            return frame
