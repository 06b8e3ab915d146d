"""``kefu serve`` on NATS stops cleanly whatever state the broker is in: SIGTERM exits 0
with no traceback while NATS is up, while it is down with publishes buffered for it (the
node reconnecting), and while a node starting up has never reached it. Run as operators
run it: the console script in a subprocess, on a nats-server the test owns (so it can
stop it)."""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.support.cli import KEFU, clean_env, run_kefu
from tests.support.nats import NatsServer

PASSWORD = "a-long-enough-password"
# Hang guards only: nothing here asserts how long anything took.
START_GUARD_SECONDS = 120
STOP_GUARD_SECONDS = 60


@dataclass
class Served:
    process: asyncio.subprocess.Process
    base: str
    stderr: Path
    http: aiohttp.ClientSession

    async def status(self, method: str, path: str, **kwargs: object) -> int:
        async with self.http.request(method, self.base + path, **kwargs) as resp:  # type: ignore[arg-type]
            await resp.read()
            return resp.status

    async def stop(self) -> tuple[int, str]:
        """SIGTERM, then the exit code and everything the node wrote on stderr."""
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(STOP_GUARD_SECONDS):
            code = await self.process.wait()
        return code, self.stderr.read_text()


@pytest.fixture
async def served(tmp_path: Path, nats: NatsServer) -> AsyncIterator[Served]:
    env = clean_env(
        KEFU_DATA_DIR=str(tmp_path / "data"),
        KEFU_BUS=nats.url,
        KEFU_AUTH__SECRET_KEY=secrets.token_hex(32),
        # The test's own server: no other test's frames, no other test's streams.
        KEFU_CLUSTER__SUBJECT=f"kefu.live.t{secrets.token_hex(4)}",
    )
    added = await asyncio.to_thread(
        run_kefu, "agents", "add", "--email", "sue@acme.test", "--password", PASSWORD,
        "--name", "Sue", "--role", "supervisor", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    stderr = tmp_path / "kefu.stderr"
    with stderr.open("wb") as out:  # a file, not a pipe: nobody has to drain it
        process = await asyncio.create_subprocess_exec(
            str(KEFU), "serve", "--port", "0", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=out,
        )  # fmt: skip
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_GUARD_SECONDS):
            line = (await process.stdout.readline()).decode()
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, line + stderr.read_text()
        async with aiohttp.ClientSession() as http:
            yield Served(process, found.group(), stderr, http)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _until_status(served: Served, path: str, status: int) -> None:
    async with asyncio.timeout(STOP_GUARD_SECONDS):
        while await served.status("GET", path) != status:
            await asyncio.sleep(0.1)


async def test_sigterm_with_nats_up_exits_0_without_traceback(served: Served) -> None:
    await _until_status(served, "/readyz", 200)

    code, stderr = await served.stop()

    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr


async def test_sigterm_while_nats_is_down_exits_0_without_traceback(
    served: Served, nats: NatsServer
) -> None:
    await _until_status(served, "/readyz", 200)
    async with served.http.post(
        served.base + "/api/v1/auth/login", json={"email": "sue@acme.test", "password": PASSWORD}
    ) as resp:
        assert resp.status == 200
        token = (await resp.json())["token"]

    nats.stop()
    await _until_status(served, "/readyz", 503)  # the node knows: it is reconnecting
    # An event posted now is published into the client's reconnect buffer, where it waits
    # for a broker that does not come back before the stop. It is refused (503), so its
    # sender keeps it: nothing is lost by dropping the buffer at the stop.
    status = await served.status(
        "POST",
        "/api/v1/events",
        json={"type": "customer.complaint", "customer_key": "C1", "data": {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 503

    code, stderr = await served.stop()

    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr


async def test_sigterm_while_nats_was_never_reached_exits_0_without_traceback(
    tmp_path: Path,
) -> None:
    nowhere = NatsServer(tmp_path)  # a free port that nothing listens on: never started
    env = clean_env(KEFU_DATA_DIR=str(tmp_path / "data"), KEFU_BUS=nowhere.url)
    stderr = tmp_path / "kefu.stderr"
    with stderr.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(KEFU), "serve", "--port", "0", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=out,
        )  # fmt: skip
    try:
        async with asyncio.timeout(START_GUARD_SECONDS):
            while "NATS error" not in stderr.read_text():  # it is trying to connect
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(STOP_GUARD_SECONDS):
            code = await process.wait()
        text = stderr.read_text()
        assert code == 0, text
        assert "Traceback" not in text, text
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
