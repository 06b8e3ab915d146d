"""``kefu serve --workers N``, run as operators run it: the installed console script in a
subprocess, on a fresh PostgreSQL database and a private nats-server.

The kernel spreads connections among the workers (SO_REUSEPORT); each response names its
worker's pid in ``X-Kefu-Worker``, which is how these tests tell the workers apart. Every
wait is bounded by a deadline that only guards against a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kefu.config import load_settings
from kefu.workers import RestartBudget, Stopped, Supervisor
from tests.support.cli import (
    KEFU,
    PASSWORD,
    add_agent,
    assert_one_line_error,
    clean_env,
    run_kefu,
)
from tests.support.kefu import Socket
from tests.support.metrics import scraped, value
from tests.support.nats import NatsServer
from tests.support.ports import free_port
from tests.support.postgres import postgres_database

WORKER = "X-Kefu-Worker"
# Enough fresh connections that the kernel's spreading misses a worker by bad luck with
# a probability of about 2^-100; the loop stops as soon as it has what it looks for.
CONNECT_ATTEMPTS = 100
# A path no route serves: its 404s are counted (kefu_http_requests_total) and nothing
# else in these tests asks for it, so the node's count of them is known exactly.
MISSING = "/api/v1/no-such-thing"


def gone(pid: int) -> bool:
    """The process has exited (a zombie awaiting its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@dataclass
class Workers:
    """A running ``kefu serve --workers 2`` and a client that notes who served it."""

    process: asyncio.subprocess.Process
    base: str
    grpc_port: int
    env: dict[str, str]
    log: Path
    http: aiohttp.ClientSession
    served_by: list[int]

    def url(self, path: str) -> str:
        return self.base + path

    async def pid_of_fresh_connection(self) -> int:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh,
            fresh.get(self.url("/healthz")) as resp,
        ):
            assert resp.status == 200
            return int(resp.headers[WORKER])

    async def fresh_get(self, path: str, status: int) -> tuple[int, str]:
        """``path`` over a fresh connection: which worker answered, and its body."""
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh,
            fresh.get(self.url(path)) as resp,
        ):
            assert resp.status == status, await resp.text()
            return int(resp.headers[WORKER]), await resp.text()

    async def misses_on(self, pids: set[int], each: int) -> Counter[int]:
        """Requests for ``MISSING`` until every one of ``pids`` answered ``each`` of
        them: how many each worker answered."""
        answered: Counter[int] = Counter()
        for _ in range(CONNECT_ATTEMPTS):
            pid, _ = await self.fresh_get(MISSING, 404)
            answered[pid] += 1
            if all(answered[pid] >= each for pid in pids):
                return answered
        raise AssertionError(f"answers for {MISSING}: {answered}, wanted {each} from {pids}")

    async def scrapes(self, pids: set[int]) -> dict[int, str]:
        """A scrape of ``/metrics`` answered by each of ``pids``."""
        answers: dict[int, str] = {}
        for _ in range(CONNECT_ATTEMPTS):
            pid, text = await self.fresh_get("/metrics", 200)
            answers[pid] = text
            if pids <= answers.keys():
                return answers
        raise AssertionError(f"only workers {set(answers)} answered /metrics")

    async def scrapes_once(self, pids: set[int], settled: Callable[[str], bool]) -> None:
        """Scrapes until one from each of ``pids`` shows what ``settled`` looks for
        (values copied once a second, such as frame counts, lag behind)."""
        async with asyncio.timeout(30):
            while True:
                answers = await self.scrapes(pids)
                if all(settled(text) for text in answers.values()):
                    return
                await asyncio.sleep(0.2)

    async def replacement(self, killed: int, survivor: int) -> int:
        """The pid of the worker started in ``killed``'s place, once it serves."""
        async with asyncio.timeout(120):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    pid = await self.pid_of_fresh_connection()
                    if pid not in (killed, survivor):
                        return pid
                await asyncio.sleep(0.1)

    async def pids(self, count: int) -> set[int]:
        """Fresh connections until ``count`` different workers answered."""
        seen: set[int] = set()
        for _ in range(CONNECT_ATTEMPTS):
            seen.add(await self.pid_of_fresh_connection())
            if len(seen) == count:
                return seen
        raise AssertionError(f"only workers {seen} answered {CONNECT_ATTEMPTS} connections")

    async def ws_on(self, token: str, accept: Callable[[int], bool]) -> tuple[Socket, int]:
        """A WebSocket served by a worker whose pid ``accept`` takes."""
        for _ in range(CONNECT_ATTEMPTS):
            raw = await self.http.ws_connect(self.url(f"/ws?token={token}"))
            pid = self.served_by[-1]  # the upgrade's answer, noted by the trace below
            if accept(pid):
                return Socket(raw), pid
            await raw.close()
        raise AssertionError("no WebSocket reached the worker wanted")

    async def login(self, email: str) -> str:
        async with self.http.post(
            self.url("/api/v1/auth/login"), json={"email": email, "password": PASSWORD}
        ) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["token"])

    async def visitor_token(self) -> str:
        async with self.http.post(self.url("/api/v1/visitors"), json={"name": "Vic"}) as resp:
            assert resp.status == 201, await resp.text()
            return str((await resp.json())["token"])

    async def readyz(self) -> int:
        async with self.http.get(self.url("/readyz")) as resp:
            return resp.status


@pytest.fixture
async def workers(tmp_path: Path, nats: NatsServer) -> AsyncIterator[Workers]:
    async with postgres_database() as store:
        port, grpc_port = free_port(), free_port()
        env = clean_env(
            KEFU_DATA_DIR=str(tmp_path / "data"),
            KEFU_STORE=store,
            KEFU_BUS=nats.url,
            KEFU_AUTH__SECRET_KEY=secrets.token_hex(32),
            KEFU_GRPC_PORT=str(grpc_port),
        )
        log = tmp_path / "kefu.log"
        with log.open("wb") as stderr:  # a file, not a pipe: nobody has to drain it
            process = await asyncio.create_subprocess_exec(
                str(KEFU), "serve", "--workers", "2", "--port", str(port), env=env,
                stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )  # fmt: skip
        served_by: list[int] = []

        async def note_worker(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
            if WORKER in params.response.headers:
                served_by.append(int(params.response.headers[WORKER]))

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(note_worker)
        try:
            assert process.stdout is not None
            async with asyncio.timeout(120):
                line = (await process.stdout.readline()).decode()
            assert f"serving on http://127.0.0.1:{port} with 2 workers" in line, (
                line + log.read_text()
            )
            async with aiohttp.ClientSession(trace_configs=[trace]) as http:
                served = Workers(
                    process, f"http://127.0.0.1:{port}", grpc_port, env, log, http, served_by
                )
                assert await served.readyz() == 200
                yield served
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(60):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def chat_both_ways(
    served: Workers, agent_token: str, agent_pid: int, visitor_pid: int
) -> None:
    """A visitor on ``visitor_pid`` and the agent on ``agent_pid`` talk, live both ways."""
    agent_ws, _ = await served.ws_on(agent_token, lambda pid: pid == agent_pid)
    visitor_ws, _ = await served.ws_on(await served.visitor_token(), lambda p: p == visitor_pid)

    ack = await visitor_ws.send_message("hello from one worker")
    conversation_id = ack["conversation_id"]
    await agent_ws.expect("conversation.assigned", timeout=15, conversation_id=conversation_id)
    first = await agent_ws.expect("message.new", timeout=15)
    while first["message"]["id"] != ack["message_id"]:  # the welcome may come first
        first = await agent_ws.expect("message.new", timeout=15)
    assert first["message"]["body"] == "hello from one worker"

    reply = await agent_ws.send_message("hello from the other", conversation_id=conversation_id)
    got = await visitor_ws.expect("message.new", timeout=15)
    while got["message"]["id"] != reply["message_id"]:
        got = await visitor_ws.expect("message.new", timeout=15)
    assert got["message"]["body"] == "hello from the other"
    await agent_ws.close()
    await visitor_ws.close()


# -- kefu serve --workers 2 ---------------------------------------------------------------


async def test_two_workers_share_the_port_and_a_chat_crosses_them(workers: Workers) -> None:
    pids = await workers.pids(2)
    email = f"ann-{secrets.token_hex(3)}@example.test"
    await add_agent(workers.env, email)
    agent_token = await workers.login(email)
    agent_pid, visitor_pid = sorted(pids)

    await chat_both_ways(workers, agent_token, agent_pid, visitor_pid)

    # Both workers bound the gRPC port too (or they would not have started); it serves.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{workers.grpc_port}") as channel:
        checked = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=15
        )
    assert checked.status == health_pb2.HealthCheckResponse.SERVING
    # The parent migrated once; the workers did not.
    migrated = [
        line for line in workers.log.read_text().splitlines() if "applied migrations" in line
    ]
    assert len(migrated) == 1 and "kefu.workers" in migrated[0], migrated


async def test_a_killed_worker_is_restarted_and_service_continues(workers: Workers) -> None:
    killed, survivor = sorted(await workers.pids(2))
    os.kill(killed, signal.SIGKILL)

    replacement = await workers.replacement(killed, survivor)
    assert workers.process.returncode is None
    assert "was killed by SIGKILL; restarting it" in workers.log.read_text()
    assert await workers.readyz() == 200

    email = f"bob-{secrets.token_hex(3)}@example.test"
    await add_agent(workers.env, email)
    await chat_both_ways(workers, await workers.login(email), replacement, survivor)


def per_worker(text: str, name: str) -> dict[str, float]:
    """The series of ``name`` by their ``worker`` label (each worker's own process_*)."""
    return {
        dict(labels)["worker"]: number
        for (sample, labels), number in scraped(text).items()
        if sample == name
    }


async def test_a_scrape_through_the_shared_port_answers_for_every_worker(
    workers: Workers,
) -> None:
    pids = await workers.pids(2)
    misses = await workers.misses_on(pids, each=3)
    sockets = [  # a visitor on each worker, each sending one message
        (await workers.ws_on(await workers.visitor_token(), lambda p, pid=pid: p == pid))[0]
        for pid in sorted(pids)
    ]
    for sent in sockets:
        await sent.send_message("counted once")

    answers = await workers.scrapes(pids)
    for text in answers.values():
        assert value(text, "kefu_http_requests_total", method="GET", status="404") == sum(
            misses.values()
        ), misses
        assert value(text, "kefu_sockets_open") == 2
        # Each worker's process metrics under its own label, in either worker's answer.
        assert set(per_worker(text, "process_start_time_seconds")) == {"1", "2"}
        assert set(per_worker(text, "python_info")) == {"1", "2"}
    # Frames and stored messages are plain ints each worker copies once a second.
    await workers.scrapes_once(
        pids,
        lambda text: (
            value(text, "kefu_frames_in_total") == 2
            and value(text, "kefu_messages_stored_total") == 2
        ),
    )
    for sent in sockets:
        await sent.close()


async def test_a_killed_workers_counts_stay_and_its_live_gauges_leave(workers: Workers) -> None:
    killed, survivor = sorted(await workers.pids(2))
    misses = await workers.misses_on({killed, survivor}, each=3)
    on_killed, _ = await workers.ws_on(await workers.visitor_token(), lambda p: p == killed)
    on_survivor, _ = await workers.ws_on(await workers.visitor_token(), lambda p: p == survivor)
    before = await workers.scrapes({killed, survivor})
    assert {value(text, "kefu_sockets_open") for text in before.values()} == {2}
    started = per_worker(before[survivor], "process_start_time_seconds")

    os.kill(killed, signal.SIGKILL)
    replacement = await workers.replacement(killed, survivor)

    def settled(text: str) -> bool:
        # The replacement copies its process metrics as it starts; until then its slot
        # may be missing from a scrape, but never counted twice.
        return per_worker(text, "process_start_time_seconds").keys() == {"1", "2"}

    await workers.scrapes_once({replacement, survivor}, settled)
    for text in (await workers.scrapes({replacement, survivor})).values():
        # The dead worker's requests are still counted; its socket is not.
        assert value(text, "kefu_http_requests_total", method="GET", status="404") == sum(
            misses.values()
        )
        assert value(text, "kefu_sockets_open") == 1
        # One start time per slot: the survivor's as before, the replacement's newer
        # (a lingering copy of the dead worker's would have doubled its slot's value).
        now = per_worker(text, "process_start_time_seconds")
        restarted = {slot for slot in now if now[slot] != started[slot]}
        assert len(restarted) == 1, (started, now)
        assert now[restarted.pop()] > max(started.values())
    await on_killed.close()
    await on_survivor.close()


async def test_sigterm_stops_every_worker_and_exits_0(workers: Workers) -> None:
    pids = await workers.pids(2)

    workers.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        code = await workers.process.wait()

    assert code == 0, workers.log.read_text()[-3000:]
    async with asyncio.timeout(30):  # children are reaped by the parent before it exits
        while not all(gone(pid) for pid in pids):
            await asyncio.sleep(0.05)


# -- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "env", "words"),
    [
        pytest.param((), {}, ("workers", "postgresql"), id="sqlite"),
        pytest.param(
            (),
            {"KEFU_STORE": "postgresql://kefu@127.0.0.1:9/kefu"},
            ("workers", "nats"),
            id="memory-bus",
        ),
        pytest.param(
            ("--port", "0"),
            {"KEFU_STORE": "postgresql://kefu@127.0.0.1:9/kefu", "KEFU_BUS": "nats://127.0.0.1:9"},
            ("port", "0"),
            id="random-port",
        ),
        pytest.param(("--workers", "65"), {}, ("workers",), id="too-many"),
    ],
)
def test_workers_that_cannot_work_are_refused_with_one_line(
    tmp_path: Path, extra: tuple[str, ...], env: dict[str, str], words: tuple[str, ...]
) -> None:
    try:
        result = run_kefu(
            "serve", "--workers", "2", *extra,
            env=clean_env(KEFU_DATA_DIR=str(tmp_path / "data"), **env), timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("kefu serve --workers started where it should have refused")

    assert_one_line_error(result, *words)


def test_workers_from_the_environment_are_refused_on_sqlite_too(tmp_path: Path) -> None:
    result = run_kefu(
        "serve", env=clean_env(KEFU_DATA_DIR=str(tmp_path / "data"), KEFU_WORKERS="2"), timeout=60
    )

    assert_one_line_error(result, "workers", "sqlite")


def test_a_port_already_taken_is_refused_before_any_worker_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(
            KEFU_DATA_DIR=str(tmp_path / "data"),
            KEFU_STORE="postgresql://kefu@127.0.0.1:9/kefu",  # never reached
            KEFU_BUS="nats://127.0.0.1:9",
        )
        result = run_kefu("serve", "--workers", "2", "--port", str(port), env=env, timeout=60)

    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


# -- supervision, with stand-in children --------------------------------------------------

# A stand-in for ``python -m kefu.workers``: reads its settings line, then behaves as told.
STAND_IN = r"""
import signal, sys
sys.stdin.readline()
mode = sys.argv[1]
if mode == "fails":
    print("error the store said no", flush=True)
    sys.exit(2)
if mode == "ignores-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready http://127.0.0.1:1", flush=True)
if mode == "crashes":
    sys.exit(3)
sys.stdin.read()  # serves until the parent's pipe closes (or SIGTERM ends it)
"""


def supervisor(tmp_path: Path, mode: str, *, count: int = 2, **options: Any) -> Supervisor:
    settings = load_settings(
        None,
        data_dir=tmp_path,
        workers=count,
        store="postgresql://kefu@127.0.0.1:9/kefu",
        bus="nats://127.0.0.1:9",
    )
    return Supervisor(
        settings, command=lambda _slot: [sys.executable, "-c", STAND_IN, mode], **options
    )


async def supervise(running: Supervisor, *, stop_when_ready: bool) -> tuple[Stopped, list[str]]:
    announced: list[str] = []

    async def ready(url: str) -> None:
        announced.append(url)
        if stop_when_ready:
            asyncio.get_running_loop().call_soon(running.stop)

    async with asyncio.timeout(60):
        return await running.run(ready), announced


async def test_stopping_supervised_workers_ends_with_0(tmp_path: Path) -> None:
    stopped, announced = await supervise(supervisor(tmp_path, "serves"), stop_when_ready=True)

    assert stopped == Stopped(0)
    assert announced == ["http://127.0.0.1:1"]


async def test_a_worker_that_cannot_start_stops_the_rest_and_says_why(tmp_path: Path) -> None:
    stopped, announced = await supervise(supervisor(tmp_path, "fails"), stop_when_ready=False)

    assert stopped.code == 2
    assert stopped.problem is not None
    assert "could not start: the store said no" in stopped.problem
    assert announced == []


async def test_a_crash_loop_ends_supervision_with_a_non_zero_exit(tmp_path: Path) -> None:
    budget = RestartBudget(limit=3, first_delay=0.01, max_delay=0.01)
    running = supervisor(tmp_path, "crashes", count=1, budget=budget)

    stopped, _ = await supervise(running, stop_when_ready=False)

    assert stopped.code == 1
    assert stopped.problem == (
        "worker 1 died more than 3 times within 60 s (last: exited with code 3); "
        "stopped every worker"
    )


async def test_a_worker_that_will_not_stop_is_killed_and_reported(tmp_path: Path) -> None:
    running = supervisor(tmp_path, "ignores-sigterm", count=1, stop_timeout=0.5)

    stopped, _ = await supervise(running, stop_when_ready=True)

    assert stopped == Stopped(1, "worker 1 was killed by SIGKILL while stopping")
