"""A client that goes away before its answer is routine (a tab closed, a flash sale's
impatient browsers, a balancer's probe giving up): kefu logs it at DEBUG, never as an
ERROR with a traceback (every such request used to be).

Caused for real, as users see it: ``kefu serve`` as a subprocess, requests sent whole and
the connection then reset (SO_LINGER 0), so the server reads each request and finds its
connection gone when it writes the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path

from tests.support.cli import KEFU, clean_env

ABORTS = 20
WENT_AWAY = "the client went away during POST /api/v1/visitors"


class ServeLog:
    """``kefu serve``'s log lines as they come, and a way to wait for some."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._grew = asyncio.Condition()

    async def follow(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._grew:
                self.lines.append(line.decode(errors="replace").rstrip())
                self._grew.notify_all()

    async def wait_for(self, text: str, count: int) -> None:
        async with self._grew:
            await self._grew.wait_for(lambda: sum(text in line for line in self.lines) >= count)


@contextlib.asynccontextmanager
async def serve_at_debug(tmp_path: Path) -> AsyncIterator[tuple[int, ServeLog]]:
    config = tmp_path / "kefu.yaml"
    # Many visitors from one address (the test's), and DEBUG so the quiet line shows.
    config.write_text(
        json.dumps({"log_level": "debug", "auth": {"visitors_per_ip_per_minute": 10_000}})
    )
    env = clean_env(KEFU_DATA_DIR=str(tmp_path / "data"))
    process = await asyncio.create_subprocess_exec(
        str(KEFU), "serve", "--port", "0", "--config", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    log = ServeLog()
    assert process.stdout is not None and process.stderr is not None
    follower = asyncio.create_task(log.follow(process.stderr))
    try:
        async with asyncio.timeout(60):  # a hang guard, not a timing assertion
            line = (await process.stdout.readline()).decode()
        found = re.search(r"http://[\d.]+:(\d+)", line)
        assert found, (line, log.lines[-20:])
        yield int(found.group(1)), log
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            assert await process.wait() == 0
            await follower
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        follower.cancel()


def post_and_reset(port: int) -> None:
    """A whole visitor-session request, then a reset instead of waiting for the answer."""
    body = json.dumps({"name": "Vera"}).encode()
    head = (
        "POST /api/v1/visitors HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + body)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_a_client_that_goes_away_is_logged_at_debug_not_as_an_error(
    tmp_path: Path,
) -> None:
    async with serve_at_debug(tmp_path) as (port, log):
        for _ in range(ABORTS):
            await asyncio.to_thread(post_and_reset, port)
        async with asyncio.timeout(120):  # a hang guard: every abort is logged, quietly
            await log.wait_for(WENT_AWAY, ABORTS)

    loud = [line for line in log.lines if re.search(r" (WARNING|ERROR|CRITICAL) ", line)]
    assert loud == []
    assert not any("Traceback" in line for line in log.lines)
