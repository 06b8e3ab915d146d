"""The multi-process load generator of ``kefu_sockets_workers`` (``bench.sockets_fleet``)
counts what it creates, opens and still holds, against a real ``kefu serve`` (SQLite).

No rate or timing is asserted; what is checked is the bookkeeping the scenario's rows are
built from: sessions created and failed, sockets opened, sockets found open after the
server went away.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.kefu_proc import BENCH_SETTINGS, kefu_argv
from bench.procs import Server, free_port, running, start_server, wait_http_ready
from bench.sockets_fleet import FleetParent

VISITORS = 30
# Only a guard against a hang: the steps take a second or two.
STEP_TIMEOUT_S = 120.0


@pytest.fixture
def kefu(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    port = free_port()
    env = {
        **BENCH_SETTINGS,
        "KEFU_DATA_DIR": str(tmp_path / "data"),
        "KEFU_GRPC_PORT": str(free_port()),
        "KEFU_LOG_LEVEL": "warning",
    }
    argv = kefu_argv("serve", "--host", "127.0.0.1", "--port", str(port))
    server = start_server(
        "kefu", argv, cpus=frozenset(os.sched_getaffinity(0)), log_dir=tmp_path, env=env
    )
    with running(server):
        base = f"http://127.0.0.1:{port}"
        wait_http_ready(server, f"{base}/healthz")
        yield server, base


def test_sessions_and_sockets_are_counted_across_processes(kefu: tuple[Server, str]) -> None:
    server, base = kefu
    fleet = FleetParent(base, VISITORS, 2, 4)
    try:
        created = fleet.command("create", STEP_TIMEOUT_S)
        assert [a["created"] for a in created] == [15, 15]
        assert all(a["failed"] == 0 and a["latencies_ms"]["p50"] > 0 for a in created)
        opened = fleet.command("open", STEP_TIMEOUT_S)
        assert sum(a["opened"] for a in opened) == VISITORS
        assert sum(a["failed"] for a in opened) == 0
        assert sum(c["open"] for c in fleet.command("check", STEP_TIMEOUT_S)) == VISITORS

        server.stop()  # every socket ends from the server's side
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while (checked := fleet.command("check", STEP_TIMEOUT_S)) and any(
            c["open"] for c in checked
        ):
            assert time.monotonic() < deadline, checked
            time.sleep(0.1)
        ended = sum(sum(c["ended"].values()) for c in checked)
        assert ended == VISITORS
    finally:
        fleet.close()


def test_sessions_that_fail_are_counted_by_kind() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    fleet = FleetParent(nobody, 6, 2, 2)
    try:
        created = fleet.command("create", STEP_TIMEOUT_S)
        assert [a["created"] for a in created] == [0, 0]
        assert [a["failed"] for a in created] == [3, 3]
        assert all(list(a["failures"]) == ["ClientConnectorError"] for a in created)
    finally:
        fleet.close()
