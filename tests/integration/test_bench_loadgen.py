"""The bench's picows load generator counts what it sends and what arrives, against the
real bare aiohttp relay (``bench.stacks.aiohttp_relay`` in its own process).

No timing is asserted: the rates are tiny and the p99 limit is out of reach; what is
checked is the bookkeeping (sent, received, lost, duplicates) and that the generator
reports its own CPU beside the server's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.drivers.relay import RawPairs
from bench.drivers.socketio import SioChat
from bench.fastws import FastGroup
from bench.procs import (
    CpuPlan,
    Server,
    free_port,
    python_argv,
    running,
    start_server,
    wait_http_ready,
)
from bench.stepper import Stepper, StepPlan

PAIRS = 20
RATE = 300.0
STEP_S = 1.0


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    port = free_port()
    argv = python_argv("bench.stacks.aiohttp_relay", "--port", str(port))
    cpus = frozenset(os.sched_getaffinity(0))
    server = start_server("relay", argv, cpus=cpus, log_dir=tmp_path)
    with running(server):
        base = f"http://127.0.0.1:{port}"
        wait_http_ready(server, f"{base}/health")
        yield server, base.replace("http://", "ws://", 1)


def _plan() -> StepPlan:
    # A p99 limit no step can miss by latency: only loss can fail a step here.
    return StepPlan(
        rates=[RATE],
        step_s=STEP_S,
        grace_s=10.0,
        p99_limit_ms=60_000.0,
        warmup_rate=100.0,
        warmup_s=0.5,
        pause_s=0.1,
        attempts=1,
    )


def _cores() -> CpuPlan:
    cores = frozenset(os.sched_getaffinity(0))
    return CpuPlan(cores, cores)


async def test_every_message_sent_is_counted_once_at_the_peer(
    relay: tuple[Server, str],
) -> None:
    server, ws_base = relay
    target = RawPairs(ws_base, PAIRS, concurrency=8)
    await target.open()
    try:
        result = await Stepper(target, server.proc.pid, _cores(), None).run(_plan())
    finally:
        await target.aclose()
    steps: list[dict[str, Any]] = result["steps"]  # type: ignore[assignment]
    (step,) = steps
    count = int(RATE * STEP_S)
    assert step["sent"] == count
    assert step["delivery"]["expected"] == count
    assert step["delivery"]["received"] == count
    assert step["delivery"]["lost"] == 0
    assert step["delivery"]["duplicates"] == 0
    assert step["passed"] is True
    assert step["loadgen_cpu_us_per_msg"] > 0
    assert step["server_cpu_us_per_msg_gross"] > 0
    assert target.describe()["frames_without_seq"] == 0


async def test_messages_the_relay_cannot_deliver_are_counted_lost(
    relay: tuple[Server, str],
) -> None:
    """Sender 0 talks to a peer that never connects: exactly its share is lost, the step
    fails, and nothing else is miscounted."""
    server, ws_base = relay
    target = RawPairs(ws_base, PAIRS, concurrency=8)
    await target.open()
    stray = FastGroup()
    try:
        url = f"{ws_base}/ws?id=lonely&peer=nobody"
        target._a[0] = await stray.connect(url, 0, lambda _: None)
        result = await Stepper(target, server.proc.pid, _cores(), None).run(_plan())
    finally:
        await target.aclose()
        await stray.aclose()
    steps: list[dict[str, Any]] = result["steps"]  # type: ignore[assignment]
    (step,) = steps
    count = int(RATE * STEP_S)
    to_nobody = len(range(0, count, PAIRS))
    assert step["delivery"]["received"] == count - to_nobody
    assert step["delivery"]["lost"] == to_nobody
    assert step["delivery"]["duplicates"] == 0
    assert step["passed"] is False


async def test_socketio_acks_and_deliveries_are_counted(tmp_path: Path) -> None:
    """The python-socketio baseline through its Engine.IO/Socket.IO handshake on picows:
    every message acked to its visitor and delivered to its room's agent, once."""
    port = free_port()
    store = f"sqlite:///{tmp_path / 'sio.db'}"
    argv = python_argv("bench.socketio_server", "--port", str(port), "--store", store)
    server = start_server("sio", argv, cpus=frozenset(os.sched_getaffinity(0)), log_dir=tmp_path)
    with running(server):
        base = f"http://127.0.0.1:{port}"
        wait_http_ready(server, f"{base}/health")
        target = SioChat(base, conversations=PAIRS, agents=2, concurrency=8)
        await target.open()
        try:
            result = await Stepper(target, server.proc.pid, _cores(), None).run(_plan())
        finally:
            await target.aclose()
    steps: list[dict[str, Any]] = result["steps"]  # type: ignore[assignment]
    (step,) = steps
    count = int(RATE * STEP_S)
    for probe in ("delivery", "ack"):
        assert step[probe]["received"] == count, probe
        assert step[probe]["lost"] == 0, probe
        assert step[probe]["duplicates"] == 0, probe
    assert step["errors"] == {}
