"""A nats-server of a test's own: free port, store in the test's directory, restartable.

Tests that keep JetStream streams use one of these rather than the machine's shared server
on 4222: the streams have fixed names and subjects (``kefu.events.>``), so tests running
side by side (xdist workers, other checkouts) would otherwise see each other's events.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.support.ports import free_port

NATS_SERVER = os.environ.get("KEFU_TEST_NATS_SERVER", "/usr/sbin/nats-server")


class NatsServer:
    """A nats-server process of our own, restartable on the same port and store."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.store = directory / "store"
        self.log_path = directory / "nats-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    NATS_SERVER,
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-js",
                    "-sd",
                    str(self.store),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log_path.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
