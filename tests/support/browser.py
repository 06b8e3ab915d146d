"""Chromium for the browser tests: Debian's binary driven by Playwright, and what the
console tests share (signing in, screenshots, waiting for a visitor's message).

The fixtures that open browsers live in ``tests/e2e/conftest.py``; this module holds
what test modules import (no test module imports another)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from playwright._impl._driver import compute_driver_executable, get_driver_env
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

# Launching a browser takes ~1 s; this only turns a hang into an error.
LAUNCH_HANG_GUARD = 60.0

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


class ChromiumServer:
    """One Chromium per test process (xdist worker), launched by Playwright's own
    ``launch-server`` and shared by the process's browser tests.

    Launching Chromium per test (and per agent) cost ~0.7 s of CPU and ~1 s each time; a
    test now connects to the running browser and opens a fresh context per agent, which
    is as isolated as a fresh profile (own cookies, storage, cache) at ~0.1 s. A browser
    that died (a crash) is launched again for the next test."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[str] = io.StringIO()
        self._endpoint = ""

    def endpoint(self) -> str:
        """The running browser's ``ws://`` endpoint, launching it when none runs."""
        if self._process is None or self._process.poll() is not None:
            self._launch()
        return self._endpoint

    def _launch(self) -> None:
        options = {"executablePath": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as config:
            json.dump({**options, "host": "127.0.0.1", "port": 0}, config)
        self._output = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by stop())
        # Its output goes to a file, which nobody has to drain. Playwright's driver itself
        # (what ``python -m playwright`` runs), not that wrapper: SIGTERM to the driver
        # closes the browser and waits for it.
        driver, cli = compute_driver_executable()
        command = ["launch-server", "--browser", "chromium", "--config", config.name]
        self._process = subprocess.Popen(
            [driver, cli, *command], env=get_driver_env(), stdout=self._output
        )
        try:
            self._endpoint = self._first_line()
        finally:
            Path(config.name).unlink()

    def _first_line(self) -> str:
        """The server's first line, its endpoint, printed once it listens."""
        assert self._process is not None
        deadline = time.monotonic() + LAUNCH_HANG_GUARD
        while time.monotonic() < deadline and self._process.poll() is None:
            self._output.seek(0)
            line = self._output.readline()
            if line.endswith("\n"):
                if line.startswith("ws://"):
                    return line.strip()
                break
            time.sleep(0.05)  # polls for the state (a line), asserts no time
        self.stop()
        raise RuntimeError(f"Playwright's launch-server printed no endpoint: {line!r}")

    def stop(self) -> None:
        """Close the browser (Playwright's server closes it on SIGTERM) and wait for it."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung browser
                self._process.kill()
                self._process.wait()
            self._output.close()
        self._process = None


async def until(check: Callable[[], Awaitable[bool]], what: str, guard: float = 60.0) -> None:
    """Poll ``check`` until true: waiting on a state; ``guard`` (seconds) only stops a hang."""
    deadline = time.monotonic() + guard
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)
