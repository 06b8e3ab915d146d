"""Scenarios ``c360_fanout`` and ``c360_cached``: the customer 360 (issue "Customer 360").

Sources: two CRM simulators (20 ms and 80 ms) and the call-center simulator (150 ms, SOAP,
asked for one fixed phone number), all independent: no ``key.via``, so the fan-out itself
is measured. The demo config chains the call center behind the CRM (it needs the CRM's
phone), which costs crm + callcenter by design and is not what is measured here.

``c360_fanout`` (cache off, ``ttl_seconds: 0``): kefu's ``Customer360.unified`` against the
seed Go design, the SAME ``Source`` objects awaited one after another (the class built by
``_sequential_class``: each source starts when the one before it answered; kefu's own
fan-out code, deadline, merge and ``View`` otherwise). Timed in-process (server side:
``perf_counter`` around the call, on the server core) and over HTTP (kefu's REST
``GET /api/v1/customers/{key}/360`` on ``kefu serve`` against the sequential code behind a
plain aiohttp handler). Requests alternate between subject and baseline, one at a time,
so both see the same neighbours. Target: p99 <= the slowest source's configured latency
+ 2 ms; since every simulated source answers a few ms after its latency knob (HTTP round
trip, sleep granularity, parse, map), the fan-out's own cost is also reported: each 360's
time minus its slowest source's own answer time in the same call (target <= 2 ms).

``c360_cached`` (every source cached, ttl 60 s, warm): in-process ``unified()`` p50/p99
(target p99 <= 1 ms) and the encoders the REST handler runs after it on each request's
``View`` (``View.json()``; ``View.message().SerializeToString()`` for protobuf), next to
``render.as_json`` of a whole message and protobuf's ``MessageToDict`` (the render it
replaced), with a cProfile breakdown. A real node's FastAPI app called in-process with ASGI
messages (no HTTP, no bridge) per route, and ``auth.principal(token)`` alone. Over HTTP:
closed-loop throughput over keep-alive connections, bounded in count and time, of kefu REST
JSON (target >= 5,000 req/s) and protobuf, kefu ``/healthz`` (the floor of FastAPI behind
the aiohttp-asgi bridge), kefu ``/api/v1/customers/sources`` (the same agent-auth
dependencies as the 360 route, no 360), and on a plain aiohttp server the same
``unified()`` + ``View.json()`` without FastAPI, bridge or auth, and an empty ``/ping``
(the floor of aiohttp and of this load generator). Server CPU per request splits the cost
between the layers; a py-spy profile of kefu under the REST JSON load (when py-spy is
installed) says where it goes.

Processes: simulators on the load-generator core(s); ``kefu serve``, the baseline server
and the in-process jobs on the server core; the HTTP client (raw HTTP/1.1 over asyncio
protocols on uvloop: an aiohttp client costs ~3x more CPU per request, which would cap the
rate it can offer on one core) on the load-generator core(s). Every job has a count, a
time budget, and a hard timeout after which it is killed.

``python -m bench.customer360 sims|baseline|job`` are the child processes' entry points.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import copy
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from bench.procs import (
    REPO_DIR,
    CpuPlan,
    core_times,
    cpu_seconds,
    free_port,
    python_argv,
    run_json_job,
    running,
    start_server,
    wait_http_ready,
)
from bench.scenarios.common import Context, Outcome, Row, at_least, at_most

if TYPE_CHECKING:
    from kefu.unify.service import Customer360, View

MODULE = "bench.customer360"
FANOUT = "c360_fanout"
CACHED = "c360_cached"
# (source name, simulator, latency ms): independent sources, slowest last.
SOURCES: tuple[tuple[str, str, float], ...] = (
    ("crm_20ms", "crm", 20.0),
    ("crm_80ms", "crm", 80.0),
    ("callcenter_150ms", "callcenter", 150.0),
)
SLOWEST_MS = max(latency for _, _, latency in SOURCES)
SEQUENTIAL_SUM_MS = sum(latency for _, _, latency in SOURCES)
FANOUT_SLACK_MS = 2.0  # issue: p99 <= slowest source + 2 ms
CACHED_P99_TARGET_MS = 1.0
CACHED_RATE_TARGET = 5_000.0
# A customer with a profile and call history in the demo dataset.
KEY = "C1001"
# Well above the sequential sum, so the baseline is never cut short by it.
DEADLINE_MS = 800.0
CACHED_TTL_S = 60.0
STATS_PATH = "/bench/stats"
REST_PATH = f"/api/v1/customers/{KEY}/360"
# Same AgentDep/NodeDep chain as the 360 route, a small fixed answer: auth + deps floor.
SOURCES_PATH = "/api/v1/customers/sources"
PROTOBUF = "application/x-protobuf"
# Per-request limit in the HTTP client: a request slower than this is an error.
REQUEST_TIMEOUT_S = 10.0
# Seconds a long-running child (simulators, servers) gets to answer its first request.
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Sizes:
    """Counts and time budgets of one run; every load stops at whichever comes first."""

    fanout_pairs_inproc: int
    fanout_rounds_http: int
    fanout_budget_s: float
    cached_calls_inproc: int
    cached_requests_http: int
    cached_seconds_http: float
    asgi_calls: int
    connections: int
    # Tries of each HTTP throughput variant; the best is kept (one neighbour's burst
    # should not set a ceiling), every try is in the details.
    tries: int
    pyspy_seconds: int


SIZES = {
    "quick": Sizes(
        fanout_pairs_inproc=60,
        fanout_rounds_http=40,
        fanout_budget_s=40.0,
        cached_calls_inproc=5_000,
        cached_requests_http=10_000,
        cached_seconds_http=5.0,
        asgi_calls=2_000,
        connections=16,
        tries=1,
        pyspy_seconds=4,
    ),
    "full": Sizes(
        fanout_pairs_inproc=250,
        fanout_rounds_http=150,
        fanout_budget_s=150.0,
        cached_calls_inproc=20_000,
        cached_requests_http=20_000,
        cached_seconds_http=10.0,
        asgi_calls=5_000,
        connections=16,
        tries=2,
        pyspy_seconds=8,
    ),
}


# --------------------------------------------------------------------------- shared


def _pct(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank q-quantile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(samples_s: Sequence[float], unit: str = "ms") -> dict[str, Any]:
    """Percentiles of durations given in seconds, in ``unit`` (ms or us)."""
    scale = 1e3 if unit == "ms" else 1e6
    values = sorted(s * scale for s in samples_s)

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "n": len(values),
        "unit": unit,
        "p50": r(_pct(values, 0.50)),
        "p90": r(_pct(values, 0.90)),
        "p99": r(_pct(values, 0.99)),
        "max": r(values[-1] if values else None),
        "mean": r(sum(values) / len(values) if values else None),
    }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU shares over a measured stretch: of the measured processes, of this process, and
    of everything else on the server's and the load generator's cores (neighbours)."""

    def __init__(self, server_pids: Sequence[int], cores: CpuPlan) -> None:
        self._pids = list(server_pids)
        self._cores = cores

    def __enter__(self) -> CpuMeter:
        self._servers0 = [cpu_seconds(pid) for pid in self._pids]
        self._own0 = _own_cpu()
        self._server_core0 = core_times(self._cores.server)
        self._client_core0 = core_times(self._cores.loadgen)
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._t0
        self.wall_s = wall
        self.server_cpu_s = [
            cpu_seconds(p) - c for p, c in zip(self._pids, self._servers0, strict=True)
        ]
        own = _own_cpu() - self._own0
        on_server = core_times(self._cores.server) - self._server_core0
        on_client = core_times(self._cores.loadgen) - self._client_core0
        # Task time on each side's cores not spent by that side: a neighbour's load. An
        # in-process job measures itself on the server core (server == loadgen cores).
        shared = self._cores.server == self._cores.loadgen
        other_server = on_server.task_s - sum(self.server_cpu_s) - (own if shared else 0.0)
        other_client = other_server if shared else on_client.task_s - own
        self.own_cpu_s = own
        self.shares = {
            "server_cpu_pct": round(100 * sum(self.server_cpu_s) / wall, 1),
            "own_cpu_pct": round(100 * own / wall, 1),
            "other_cpu_pct_server_cores": round(max(0.0, 100 * other_server / wall), 1),
            "other_cpu_pct_loadgen_cores": round(max(0.0, 100 * other_client / wall), 1),
            "irq_pct_server_cores": round(100 * on_server.irq_s / wall, 1),
            "steal_pct_server_cores": round(100 * on_server.steal_s / wall, 1),
            "steal_pct_loadgen_cores": round(100 * on_client.steal_s / wall, 1),
            "one_side": shared,
        }


class LoopLag:
    """Worst lateness of a 5 ms timer on this process's loop while a measurement runs."""

    INTERVAL_S = 0.005

    def __init__(self) -> None:
        self.max_ms = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            due = time.monotonic() + self.INTERVAL_S
            await asyncio.sleep(self.INTERVAL_S)
            self.max_ms = max(self.max_ms, round((time.monotonic() - due) * 1000, 1))

    def stop(self) -> float:
        self._task.cancel()
        return self.max_ms


def sources_config(urls: dict[str, str], ttl_seconds: float, phone: str) -> dict[str, Any]:
    """The ``sources:`` and ``customer360:`` settings: kefu's demo wiring, made independent.

    Each source is the demo's CRM or call-center definition pointed at its own simulator;
    the call center's SOAP body carries ``phone`` itself instead of waiting for the CRM.
    """
    from kefu.demo_systems.sources import demo_sources

    demo = demo_sources(urls["crm_20ms"], urls["callcenter_150ms"], "sqlite:///unused.db")
    sources: dict[str, Any] = {}
    for name, kind, _ in SOURCES:
        spec = copy.deepcopy(demo[kind])
        spec["connection"]["base_url"] = urls[name]
        spec["ttl_seconds"] = ttl_seconds
        spec.pop("key", None)
        spec.pop("lookup", None)
        if kind == "callcenter":
            body = spec["request"]["body"]
            spec["request"]["body"] = body.replace("{value}", escape(phone))
        sources[name] = spec
    return {"sources": sources, "customer360": {"deadline_ms": DEADLINE_MS}}


async def build_pair(config_path: str) -> tuple[Customer360, Customer360]:
    """kefu's Customer360 from the config file, and the sequential baseline over the very
    same ``Source`` objects (same HTTP pools, cache, breakers)."""
    from kefu.cache.memory import MemoryCache
    from kefu.clock import SystemClock
    from kefu.config import load_settings
    from kefu.unify.build import build_customer360

    settings = load_settings(Path(config_path))
    clock = SystemClock()
    parallel = await build_customer360(settings.sources, settings.customer360, MemoryCache(), clock)
    options = settings.customer360
    sequential_class = _sequential_class()
    sequential = sequential_class(
        parallel.sources, clock, options.deadline_ms, options.max_key_chars
    )
    return parallel, sequential


def _sequential_class() -> type[Customer360]:
    from kefu.unify.service import Customer360
    from kefu.unify.source import Answer, Source

    class SequentialCustomer360(Customer360):
        """The baseline (the seed Go design): each source starts only when the one
        configured before it has answered. Everything else is kefu's own code: the single
        deadline, ``_answer``, the merge, the memo and the ``View``."""

        async def _answer(
            self,
            source: Source,
            key: str,
            until: float,
            refresh: bool,
            tasks: dict[str, asyncio.Task[Answer]],
        ) -> Answer:
            index = self._sources.index(source)
            if index:
                await asyncio.wait([tasks[self._sources[index - 1].name]])
            return await super()._answer(source, key, until, refresh, tasks)

    return SequentialCustomer360


def _state_names(view: View) -> dict[str, str]:
    from kefu.unify.source import State

    return {name: State.Name(answer.state) for name, answer in view.answers.items()}


def tune_gc() -> None:
    """What ``kefu serve`` does after start (kefu.runner.tune_gc), for like-for-like."""
    from kefu.runner import tune_gc as kefu_tune_gc

    kefu_tune_gc()


# --------------------------------------------------------------------------- children


async def _serve_until_signalled(
    start: Callable[[], Awaitable[Callable[[], Awaitable[None]]]],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cleanup = await start()
    try:
        await stop.wait()
    finally:
        await cleanup()


async def serve_sims(ports: list[int]) -> None:
    """The three simulators on the given ports, each with ``/bench/stats`` (its counters)."""
    from dataclasses import asdict

    from aiohttp import web

    from kefu.demo_systems import serve_app, simulator_stats
    from kefu.demo_systems.callcenter import callcenter_app
    from kefu.demo_systems.crm import crm_app
    from kefu.demo_systems.dataset import build_dataset

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(asdict(simulator_stats(request.app)))

    dataset = build_dataset()
    stack = contextlib.AsyncExitStack()

    async def start() -> Callable[[], Awaitable[None]]:
        for (_, kind, latency), port in zip(SOURCES, ports, strict=True):
            make = crm_app if kind == "crm" else callcenter_app
            app = make(dataset, latency_ms=latency)
            app.router.add_get(STATS_PATH, stats)
            await stack.enter_async_context(serve_app(app, "127.0.0.1", port))
        return stack.aclose

    await _serve_until_signalled(start)


async def serve_baseline(config_path: str, port: int) -> None:
    """A plain aiohttp server over kefu's sources: ``/seq/{key}/360`` (the sequential
    baseline), ``/par/{key}/360`` (kefu's ``unified()`` + ``View.json()`` without FastAPI,
    the ASGI bridge or auth) and ``/ping`` (nothing at all)."""
    from aiohttp import web

    parallel, sequential = await build_pair(config_path)
    headers = {"Cache-Control": "no-store", "Vary": "Accept"}

    def handler(c360: Customer360) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            refresh = request.query.get("refresh") == "true"
            view = await c360.unified(request.match_info["key"], refresh=refresh)
            return web.Response(body=view.json(), content_type="application/json", headers=headers)

        return handle

    async def ping(_request: web.Request) -> web.Response:
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    app = web.Application()
    app.router.add_get("/ping", ping)
    app.router.add_get("/seq/{key}/360", handler(sequential))
    app.router.add_get("/par/{key}/360", handler(parallel))

    async def start() -> Callable[[], Awaitable[None]]:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
        tune_gc()

        async def cleanup() -> None:
            await runner.cleanup()
            await parallel.close()

        return cleanup

    await _serve_until_signalled(start)


# In-process jobs (server core) ------------------------------------------------------


async def inproc_fanout(job: dict[str, Any]) -> dict[str, Any]:
    """Alternate kefu's parallel ``unified()`` and the sequential baseline, one at a time."""
    parallel, sequential = await build_pair(job["config"])
    key, pairs, budget = job["key"], int(job["pairs"]), float(job["budget_s"])
    tune_gc()
    try:
        for _ in range(3):  # unrecorded: opens each source's HTTP connection
            await parallel.unified(key)
            await sequential.unified(key)
        lat: dict[str, list[float]] = {"parallel": [], "sequential": []}
        alone: dict[str, list[float]] = defaultdict(list)
        # What the 360 added to the slowest source's own answer time (parallel) or to the
        # sum of them (sequential), within the same call: the fan-out's own cost.
        over: dict[str, list[float]] = {"parallel": [], "sequential": []}
        states: dict[str, Counter[str]] = {"parallel": Counter(), "sequential": Counter()}
        deadline = time.monotonic() + budget
        cores = CpuPlan(frozenset(job["server_cpus"]), frozenset(job["loadgen_cpus"]))
        lag = LoopLag()
        with CpuMeter([], CpuPlan(cores.server, cores.server)) as meter:
            done = 0
            while done < pairs and time.monotonic() < deadline:
                order = ("parallel", "sequential") if done % 2 == 0 else ("sequential", "parallel")
                for label in order:
                    c360 = parallel if label == "parallel" else sequential
                    t0 = time.perf_counter()
                    view = await c360.unified(key)
                    elapsed = time.perf_counter() - t0
                    lat[label].append(elapsed)
                    states[label].update(_state_names(view).values())
                    own = [answer.latency_ms / 1000 for answer in view.answers.values()]
                    combine = max if label == "parallel" else sum
                    over[label].append(elapsed - combine(own))
                    if label == "sequential":
                        for name, answer in view.answers.items():
                            alone[name].append(answer.latency_ms / 1000)
                done += 1
        return {
            "pairs": done,
            "parallel_ms": summarize(lat["parallel"]),
            "sequential_ms": summarize(lat["sequential"]),
            "parallel_over_slowest_source_ms": summarize(over["parallel"]),
            "sequential_over_sum_of_sources_ms": summarize(over["sequential"]),
            "source_alone_ms": {name: summarize(v) for name, v in alone.items()},
            "states": {k: dict(v) for k, v in states.items()},
            "cpu": meter.shares,
            "loop_lag_max_ms": lag.stop(),
        }
    finally:
        await parallel.close()


async def inproc_cached(job: dict[str, Any]) -> dict[str, Any]:
    """Warm cache: ``unified()`` per call, the encoders, and where a call's time goes."""
    import cProfile
    import pstats

    import msgspec
    from google.protobuf.json_format import MessageToDict

    from kefu.unify.render import as_json

    parallel, _ = await build_pair(job["config"])
    key, calls, budget = job["key"], int(job["calls"]), float(job["budget_s"])
    try:
        await parallel.unified(key)  # fetches and fills the cache
        for _ in range(200):
            view = await parallel.unified(key)
        warm_states = _state_names(view)
        tune_gc()
        cores = CpuPlan(frozenset(job["server_cpus"]), frozenset(job["loadgen_cpus"]))
        samples: list[float] = []
        deadline = time.monotonic() + budget
        with CpuMeter([], CpuPlan(cores.server, cores.server)) as meter:
            t_all = time.perf_counter()
            while len(samples) < calls and time.monotonic() < deadline:
                t0 = time.perf_counter()
                view = await parallel.unified(key)
                samples.append(time.perf_counter() - t0)
            total_s = time.perf_counter() - t_all
        end_states = _state_names(view)

        n = min(calls, 5_000)

        async def per_view(encode: Callable[[View], object]) -> dict[str, Any]:
            """``encode`` timed on a fresh View each time, as each request gets one."""
            out = []
            for _ in range(n):
                fresh = await parallel.unified(key)
                t0 = time.perf_counter()
                encode(fresh)
                out.append(time.perf_counter() - t0)
            return summarize(out, "us")

        def timed(fn: Callable[[], object]) -> dict[str, Any]:
            out = []
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
            return summarize(out, "us")

        message = view.message()
        whole = as_json(message)
        encoders = {
            "View.json() (REST JSON)": await per_view(lambda v: v.json()),
            "View.message().SerializeToString() (REST protobuf)": await per_view(
                lambda v: v.message().SerializeToString()
            ),
            "render.as_json(message)": timed(lambda: as_json(message)),
            "MessageToDict + msgspec (the render as_json replaced)": timed(
                lambda: msgspec.json.encode(
                    MessageToDict(
                        message,
                        preserving_proto_field_name=True,
                        always_print_fields_with_no_presence=True,
                    )
                )
            ),
            "SerializeToString of a built message": timed(message.SerializeToString),
        }

        profiler = cProfile.Profile()
        profiled = min(calls, 3_000)
        profiler.enable()
        t0 = time.perf_counter()
        for _ in range(profiled):
            (await parallel.unified(key)).json()
        profiled_s = time.perf_counter() - t0
        profiler.disable()
        stats = pstats.Stats(profiler)
        entries = stats.stats  # type: ignore[attr-defined]
        total_tt = sum(v[2] for v in entries.values()) or 1e-9
        top = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:20]
        return {
            "calls": len(samples),
            "unified_us": summarize(samples, "us"),
            "calls_per_s_one_loop": round(len(samples) / total_s),
            "warm_states": warm_states,
            "end_states": end_states,
            "encoders_us": encoders,
            "json_bytes": len(view.json()),
            "whole_message_json_bytes": len(whole),
            "protobuf_bytes": len(message.SerializeToString()),
            "cpu": meter.shares,
            "cprofile": {
                "what": f"{profiled} x (await unified()).json(), cProfile on",
                "us_per_call_profiled": round(1e6 * profiled_s / profiled, 1),
                "top_self_time": [
                    {
                        "function": f"{_short_path(f)}:{line} {name}",
                        "self_pct": round(100 * v[2] / total_tt, 1),
                        "self_us_per_call": round(1e6 * v[2] / profiled, 2),
                        "calls_per_call": round(v[1] / profiled, 2),
                    }
                    for (f, line, name), v in top
                ],
            },
        }
    finally:
        await parallel.close()


async def _asgi_get(app: Any, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One GET through an ASGI app, no server: what FastAPI alone costs per request."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    received = False
    status = 0
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # no disconnect: the response ends the call
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(body)


async def inproc_asgi(job: dict[str, Any]) -> dict[str, Any]:
    """A real node (``running_node``, SQLite in the run dir, the job's sources) and its
    FastAPI app called in-process per route: FastAPI's own cost, without aiohttp or the
    aiohttp-asgi bridge; plus ``auth.principal(token)`` alone (JWT verify + agent)."""
    from kefu.api.app import create_api
    from kefu.auth.passwords import hash_password
    from kefu.bootstrap import running_node
    from kefu.config import load_settings
    from kefu.domain.roles import Role

    data_dir = Path(job["data_dir"])
    settings = load_settings(
        Path(job["config"]), data_dir=data_dir, store=f"sqlite:///{data_dir / 'kefu.db'}"
    )
    calls = int(job["calls"])
    async with running_node(settings) as node:
        email, password = "bench-360@example.com", "bench-Agent-passw0rd-42"
        await node.repos.agents.create(
            email=email,
            name="Bench",
            role=Role.AGENT,
            password_hash=hash_password(password),
            capacity=None,
            now=node.clock.now(),
        )
        token, _ = await node.auth.login(email, password, "127.0.0.1")
        app = create_api(node)
        auth = {"Authorization": f"Bearer {token}"}
        routes = {
            "/healthz": ("/healthz", {}),
            "/customers/sources (auth deps)": (SOURCES_PATH, auth),
            "360 JSON": (REST_PATH, auth),
            "360 protobuf": (REST_PATH, {**auth, "Accept": PROTOBUF}),
        }
        tune_gc()
        out: dict[str, Any] = {}
        for name, (path, headers) in routes.items():
            statuses: Counter[int] = Counter()
            for _ in range(200):  # warm-up; the first 360 fills the cache
                statuses[(await _asgi_get(app, path, headers))[0]] += 1
            samples = []
            cpu0 = time.process_time()
            for _ in range(calls):
                t0 = time.perf_counter()
                status, _ = await _asgi_get(app, path, headers)
                samples.append(time.perf_counter() - t0)
                statuses[status] += 1
            cpu = time.process_time() - cpu0
            out[name] = {
                "wall_us": summarize(samples, "us"),
                "cpu_us_per_call": round(1e6 * cpu / calls, 1),
                "statuses": {str(k): v for k, v in statuses.items()},
            }
        samples = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await node.auth.principal(token)
            samples.append(time.perf_counter() - t0)
        out["auth.principal(token)"] = {"wall_us": summarize(samples, "us")}
        return out


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# HTTP client jobs (load-generator core) -----------------------------------------------


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time; Content-Length or
    chunked replies. Raw on purpose: it costs a fraction of an aiohttp client's CPU."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not registered as asyncio.Transport subclasses.
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self._buf += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        parsed = _parse_response(self._buf)
        if parsed is not None:
            status, body, consumed = parsed
            del self._buf[:consumed]
            waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")


def _parse_response(buf: bytearray) -> tuple[int, bytes, int] | None:
    """(status, body, bytes consumed) of the first complete response in ``buf``."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).lower()
    status = int(head[9:12])
    start = end + 4
    if b"\r\ntransfer-encoding: chunked" in head:
        body = bytearray()
        at = start
        while True:
            line_end = buf.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(bytes(buf[at:line_end]).split(b";")[0], 16)
            at = line_end + 2
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", at - 2)
                if trailer_end < 0:
                    return None
                return status, bytes(body), trailer_end + 4
            if len(buf) < at + size + 2:
                return None
            body += buf[at : at + size]
            at += size + 2
    match = _CONTENT_LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    if len(buf) < start + length:
        return None
    return status, bytes(buf[start : start + length]), start + length


def raw_request(target: dict[str, Any]) -> bytes:
    lines = [f"GET {target['path']} HTTP/1.1", f"Host: {target['host']}:{target['port']}"]
    lines += [f"{name}: {value}" for name, value in target.get("headers", {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _connect(target: dict[str, Any]) -> HttpConnection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(HttpConnection, target["host"], int(target["port"]))
    return conn


def check_reply(kind: str | None, body: bytes) -> dict[str, tuple[str, float]] | str:
    """(state, latency_ms) of each source in a 360 reply (JSON or protobuf), or what is
    wrong with the reply."""
    if kind is None:
        return {}
    try:
        if kind == "json360":
            doc = json.loads(body)
            if doc["customer"]["key"] != KEY:
                return "wrong customer"
            return {n: (s["status"], float(s["latency_ms"])) for n, s in doc["sources"].items()}
        if kind == "protobuf360":
            from kefu.unify.render import STATE_NAMES
            from kefu.v1 import unified_pb2 as pb

            unified = pb.UnifiedCustomer.FromString(body)
            if unified.customer.key != KEY:
                return "wrong customer"
            return {
                n: (STATE_NAMES.get(s.state, "?"), s.latency_ms) for n, s in unified.sources.items()
            }
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable reply: {type(exc).__name__}"
    return f"unknown check {kind}"


async def http_alternate(job: dict[str, Any]) -> dict[str, Any]:
    """One request at a time, alternating between the targets; every reply checked."""
    targets = job["targets"]
    conns = [await _connect(t) for t in targets]
    raws = [raw_request(t) for t in targets]
    cores = CpuPlan(frozenset(job["server_cpus"]), frozenset(job["loadgen_cpus"]))
    lat: dict[str, list[float]] = {t["name"]: [] for t in targets}
    states: dict[str, Counter[str]] = {t["name"]: Counter() for t in targets}
    over_slowest: dict[str, list[float]] = defaultdict(list)
    over_sum: dict[str, list[float]] = defaultdict(list)
    problems: Counter[str] = Counter()
    try:
        for _ in range(2):  # unrecorded warm-up round
            for conn, raw in zip(conns, raws, strict=True):
                await asyncio.wait_for(conn.request(raw), REQUEST_TIMEOUT_S)
        deadline = time.monotonic() + float(job["budget_s"])
        rounds = 0
        lag = LoopLag()
        with CpuMeter(job["server_pids"], cores) as meter:
            while rounds < int(job["rounds"]) and time.monotonic() < deadline:
                order = list(range(len(targets)))
                if rounds % 2:
                    order.reverse()
                for i in order:
                    t0 = time.perf_counter()
                    status, body = await asyncio.wait_for(
                        conns[i].request(raws[i]), REQUEST_TIMEOUT_S
                    )
                    elapsed = time.perf_counter() - t0
                    name = targets[i]["name"]
                    checked = check_reply(targets[i].get("check"), body)
                    if status != 200 or isinstance(checked, str):
                        problems[
                            f"{name}: HTTP {status} {checked if isinstance(checked, str) else ''}"
                        ] += 1
                        continue
                    lat[name].append(elapsed)
                    states[name].update(state for state, _ in checked.values())
                    if checked:
                        # What the 360 added to its slowest source / to all of them.
                        own = [ms / 1000 for _, ms in checked.values()]
                        over_slowest[name].append(elapsed - max(own))
                        over_sum[name].append(elapsed - sum(own))
                rounds += 1
        return {
            "rounds": rounds,
            "latency_ms": {name: summarize(v) for name, v in lat.items()},
            "over_slowest_source_ms": {n: summarize(v) for n, v in over_slowest.items()},
            "over_sum_of_sources_ms": {n: summarize(v) for n, v in over_sum.items()},
            "states": {k: dict(v) for k, v in states.items()},
            "problems": dict(problems),
            "cpu": meter.shares,
            "loadgen_loop_lag_max_ms": lag.stop(),
        }
    finally:
        for conn in conns:
            conn.close()


async def http_throughput(job: dict[str, Any]) -> dict[str, Any]:
    """Closed loop over ``connections`` keep-alive connections, until ``requests`` or
    ``seconds``; server CPU per request, with the server's idle CPU subtracted."""
    target = job["target"]
    raw = raw_request(target)
    check = target.get("check")
    pid = int(job["server_pid"])
    cores = CpuPlan(frozenset(job["server_cpus"]), frozenset(job["loadgen_cpus"]))
    conns = [await _connect(target) for _ in range(int(job["connections"]))]
    limit, seconds = int(job["requests"]), float(job["seconds"])
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    states: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    issued = 0
    stop_at = 0.0

    async def worker(conn: HttpConnection, count_limit: int, record: bool) -> None:
        nonlocal issued
        while issued < count_limit and time.monotonic() < stop_at:
            issued += 1
            sample = record and issued % 500 == 1
            t0 = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(conn.request(raw), REQUEST_TIMEOUT_S)
            except (TimeoutError, ConnectionError) as exc:
                problems[type(exc).__name__] += 1
                return
            if record:
                latencies.append(time.perf_counter() - t0)
                statuses[status] += 1
            if sample:
                checked = check_reply(check, body)
                if isinstance(checked, str):
                    problems[checked] += 1
                else:
                    states.update(state for state, _ in checked.values())

    try:
        # Unrecorded warm-up: every connection, the server's lazily built paths.
        stop_at = time.monotonic() + 10.0
        await asyncio.gather(*(worker(c, int(job["warmup"]), False) for c in conns))
        idle_share = 0.0
        if job.get("idle_sample", True):
            await asyncio.sleep(0.3)
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(1.0)
            idle_share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        issued = 0
        lag = LoopLag()
        with CpuMeter([pid], cores) as meter:
            stop_at = time.monotonic() + seconds
            await asyncio.gather(*(worker(c, limit, True) for c in conns))
        lag_max = lag.stop()
        done = len(latencies)
        server_cpu = meter.server_cpu_s[0]
        net = max(0.0, server_cpu - idle_share * meter.wall_s)
        return {
            "requests": done,
            "seconds": round(meter.wall_s, 3),
            "req_per_s": round(done / meter.wall_s, 1),
            "latency_ms": summarize(latencies),
            "statuses": {str(k): v for k, v in statuses.items()},
            "sampled_states": dict(states),
            "problems": dict(problems),
            "server_idle_cpu_pct": round(100 * idle_share, 1),
            "server_cpu_us_per_req": round(1e6 * net / done, 1) if done else None,
            "server_cpu_us_per_req_gross": round(1e6 * server_cpu / done, 1) if done else None,
            "loadgen_cpu_us_per_req": round(1e6 * meter.own_cpu_s / done, 1) if done else None,
            **meter.shares,
            "loadgen_loop_lag_max_ms": lag_max,
            "connections": len(conns),
        }
    finally:
        for conn in conns:
            conn.close()


JOBS: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "inproc_fanout": inproc_fanout,
    "inproc_cached": inproc_cached,
    "inproc_asgi": inproc_asgi,
    "http_alternate": http_alternate,
    "http_throughput": http_throughput,
}


def _child_main(argv: list[str] | None = None) -> None:
    import uvloop

    from bench.procs import raise_nofile

    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    sub = parser.add_subparsers(dest="command", required=True)
    sims = sub.add_parser("sims")
    sims.add_argument("--ports", required=True)
    baseline = sub.add_parser("baseline")
    baseline.add_argument("--config", required=True)
    baseline.add_argument("--port", type=int, required=True)
    sub.add_parser("job")
    args = parser.parse_args(argv)
    raise_nofile()
    if args.command == "sims":
        uvloop.run(serve_sims([int(p) for p in args.ports.split(",")]))
    elif args.command == "baseline":
        uvloop.run(serve_baseline(args.config, args.port))
    else:
        job = json.loads(sys.stdin.read())
        try:
            result = uvloop.run(JOBS[job["job"]](job))
            print(json.dumps({"ok": True, "result": result}))
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
            sys.exit(1)


# --------------------------------------------------------------------------- parent


def run_child_job(
    job: dict[str, Any], cpus: frozenset[int], plan: CpuPlan, timeout_s: float
) -> dict[str, Any]:
    """Run one job in ``python -m bench.customer360 job`` pinned to ``cpus``; killed with
    its process group past ``timeout_s``."""
    job = {**job, "server_cpus": sorted(plan.server), "loadgen_cpus": sorted(plan.loadgen)}
    return run_json_job(python_argv(MODULE, "job"), job, cpus, timeout_s, str(job["job"]))


def _http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as resp:
        return json.loads(resp.read() or b"null")


@contextlib.contextmanager
def simulators(ctx: Context) -> Iterator[dict[str, str]]:
    """The simulators in their own process on the load-generator core(s); yields URLs."""
    ports = [free_port() for _ in SOURCES]
    argv = python_argv(MODULE, "sims", "--ports", ",".join(map(str, ports)))
    server = start_server("c360-simulators", argv, cpus=ctx.cpus.loadgen, log_dir=ctx.run_dir)
    with running(server):
        urls = {
            name: f"http://127.0.0.1:{port}"
            for (name, _, _), port in zip(SOURCES, ports, strict=True)
        }
        for url in urls.values():
            wait_http_ready(server, url + STATS_PATH, READY_TIMEOUT_S)
        yield urls


def sim_requests(urls: dict[str, str]) -> dict[str, int]:
    return {name: int(_http("GET", url + STATS_PATH)["requests"]) for name, url in urls.items()}


def _fixed_phone() -> str:
    from kefu.demo_systems.dataset import build_dataset

    customer = build_dataset().customer(KEY)
    assert customer is not None
    return customer.phone


def write_config(ctx: Context, urls: dict[str, str], ttl: float, label: str) -> Path:
    path = ctx.run_dir / f"c360-{label}.yaml"
    # JSON is YAML: kefu reads this file with yaml.safe_load.
    path.write_text(json.dumps(sources_config(urls, ttl, _fixed_phone()), indent=2) + "\n")
    return path


@dataclass
class Servers:
    kefu_pid: int
    kefu_base: str
    token: str
    baseline_pid: int
    baseline_base: str

    def target(self, name: str, which: str, path: str, **extra: Any) -> dict[str, Any]:
        base = self.kefu_base if which == "kefu" else self.baseline_base
        host, port = base.removeprefix("http://").rsplit(":", 1)
        headers = dict(extra.pop("headers", {}))
        if which == "kefu" and path.startswith("/api/"):
            headers["Authorization"] = f"Bearer {self.token}"
        return {
            "name": name,
            "host": host,
            "port": int(port),
            "path": path,
            "headers": headers,
            **extra,
        }


@contextlib.contextmanager
def kefu_and_baseline(ctx: Context, config: Path, label: str) -> Iterator[Servers]:
    """``kefu serve`` (configured by ``config``, one agent logged in over REST) and the
    baseline aiohttp server, both on the server core."""
    from bench.kefu_proc import add_agents, node_env, start_kefu

    env = {**node_env(ctx, f"c360-{label}"), "KEFU_CONFIG": str(config)}
    [(email, password)] = add_agents(env, 1, 1, ctx.run_dir)
    kefu, kefu_base = start_kefu(ctx, f"c360-{label}", env)
    with running(kefu):
        port = free_port()
        argv = python_argv(MODULE, "baseline", "--config", str(config), "--port", str(port))
        baseline = start_server(
            f"c360-baseline-{label}", argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir
        )
        with running(baseline):
            baseline_base = f"http://127.0.0.1:{port}"
            wait_http_ready(baseline, baseline_base + "/ping", READY_TIMEOUT_S)
            login = _http(
                "POST", kefu_base + "/api/v1/auth/login", {"email": email, "password": password}
            )
            yield Servers(kefu.pid, kefu_base, login["token"], baseline.pid, baseline_base)


def git_state() -> dict[str, Any]:
    """Which code was measured: HEAD, and files under src/ that differ from it (the
    working tree is shared, and the bench measures it as it is)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, timeout=30, check=False
        )
        return done.stdout.decode(errors="replace").rstrip("\n")

    try:
        return {
            "head": git("rev-parse", "HEAD"),
            "src_changed": git("status", "--porcelain", "--", "src").splitlines(),
        }
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}


def _neighbour_note(cpu: dict[str, Any]) -> str:
    parts = []
    if cpu.get("other_cpu_pct_server_cores", 0) >= 10:
        parts.append(f"neighbours took {cpu['other_cpu_pct_server_cores']}% of the server core")
    if not cpu.get("one_side") and cpu.get("other_cpu_pct_loadgen_cores", 0) >= 10:
        parts.append(f"{cpu['other_cpu_pct_loadgen_cores']}% of the client core")
    return ", ".join(parts)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def run_fanout(ctx: Context) -> Outcome:
    sizes = SIZES[ctx.profile.name]
    outcome = Outcome()
    with simulators(ctx) as urls:
        config = write_config(ctx, urls, 0, "fanout")
        ctx.log(f"{FANOUT}: in-process, {sizes.fanout_pairs_inproc} parallel/sequential pairs")
        before = sim_requests(urls)
        inproc = run_child_job(
            {
                "job": "inproc_fanout",
                "config": str(config),
                "key": KEY,
                "pairs": sizes.fanout_pairs_inproc,
                "budget_s": sizes.fanout_budget_s,
            },
            ctx.cpus.server,
            ctx.cpus,
            sizes.fanout_budget_s + 60,
        )
        after = sim_requests(urls)
        calls = 2 * (inproc["pairs"] + 3)
        inproc["source_requests_per_360"] = {
            name: round((after[name] - before[name]) / calls, 3) for name in urls
        }
        outcome.details["inproc"] = inproc
        ctx.log(f"{FANOUT}: over HTTP, {sizes.fanout_rounds_http} rounds REST/plain/sequential")
        with kefu_and_baseline(ctx, config, "fanout") as servers:
            http = run_child_job(
                {
                    "job": "http_alternate",
                    "targets": [
                        servers.target("kefu_rest", "kefu", REST_PATH, check="json360"),
                        servers.target(
                            "parallel_plain", "baseline", f"/par/{KEY}/360", check="json360"
                        ),
                        servers.target(
                            "sequential_http", "baseline", f"/seq/{KEY}/360", check="json360"
                        ),
                    ],
                    "rounds": sizes.fanout_rounds_http,
                    "budget_s": sizes.fanout_budget_s,
                    "server_pids": [servers.kefu_pid, servers.baseline_pid],
                },
                ctx.cpus.loadgen,
                ctx.cpus,
                sizes.fanout_budget_s + 60,
            )
        outcome.details["http"] = http
    outcome.details["config"] = json.loads(config.read_text())
    outcome.details["code"] = git_state()
    _fanout_rows(outcome.rows, inproc, http)
    return outcome


def _not_ok(states: dict[str, int], ok: str) -> str:
    bad = sum(v for k, v in states.items() if k != ok)
    return f"non-ok source answers {bad}" if bad else ""


def _fanout_rows(rows: list[Row], inproc: dict[str, Any], http: dict[str, Any]) -> None:
    target_ms = SLOWEST_MS + FANOUT_SLACK_MS
    slowest = SOURCES[-1][0]
    alone = inproc["source_alone_ms"][slowest]
    lat = "/".join(f"{ms:g}" for _, _, ms in SOURCES)
    sub_par, sub_seq = "kefu unified() in-process", "sequential in-process (same sources)"
    sub_rest, sub_seq_http = "kefu REST over HTTP", "sequential aiohttp handler over HTTP"
    over_note = "360 time minus its slowest source's own answer time, same call"

    def pair(
        subject: str,
        baseline: str,
        ours: dict[str, Any],
        theirs: dict[str, Any],
        over: dict[str, Any],
        note: str,
    ) -> None:
        target, met = at_most(ours["p99"], target_ms)
        rows.append(
            Row(
                FANOUT,
                subject,
                "360_p99_ms",
                ours["p99"],
                "ms",
                better="lower",
                target=target,
                met=met,
                baseline=(FANOUT, baseline, "360_p99_ms"),
                note=_join(f"n={ours['n']}, max {ours['max']} ms", note),
            )
        )
        rows.append(
            Row(
                FANOUT,
                subject,
                "360_p50_ms",
                ours["p50"],
                "ms",
                better="lower",
                baseline=(FANOUT, baseline, "360_p50_ms"),
            )
        )
        target, met = at_most(over["p99"], FANOUT_SLACK_MS)
        rows.append(
            Row(
                FANOUT,
                subject,
                "over_slowest_source_p99_ms",
                over["p99"],
                "ms",
                better="lower",
                target=target,
                met=met,
                note=f"p50 {over['p50']} ms; {over_note}",
            )
        )
        for metric, key in (("360_p99_ms", "p99"), ("360_p50_ms", "p50")):
            rows.append(Row(FANOUT, baseline, metric, theirs[key], "ms", better="lower"))

    pair(
        sub_par,
        sub_seq,
        inproc["parallel_ms"],
        inproc["sequential_ms"],
        inproc["parallel_over_slowest_source_ms"],
        _join(
            f"independent sources at {lat} ms, ttl 0",
            _not_ok(inproc["states"]["parallel"], "STATE_OK"),
            _neighbour_note(inproc["cpu"]),
            f"own loop stalled up to {inproc['loop_lag_max_ms']} ms"
            if inproc["loop_lag_max_ms"] >= 20
            else "",
        ),
    )
    rows.append(
        Row(
            FANOUT,
            f"{slowest} alone (kefu's own answer time)",
            "source_p99_ms",
            alone["p99"],
            "ms",
            better="lower",
            note=f"p50 {alone['p50']} ms: simulator sleep + HTTP + parse + map; "
            f"the floor of any 360 that waits for it",
        )
    )
    plain = http["latency_ms"]["parallel_plain"]
    plain_over = http["over_slowest_source_ms"]["parallel_plain"]
    sub_plain = "kefu unified() behind a plain aiohttp handler over HTTP"
    rows.append(
        Row(
            FANOUT,
            sub_plain,
            "360_p99_ms",
            plain["p99"],
            "ms",
            better="lower",
            baseline=(FANOUT, sub_seq_http, "360_p99_ms"),
            note=f"p50 {plain['p50']} ms; kefu's fan-out without FastAPI, bridge or auth",
        )
    )
    rows.append(
        Row(
            FANOUT,
            sub_plain,
            "over_slowest_source_p99_ms",
            plain_over["p99"],
            "ms",
            better="lower",
            note=f"p50 {plain_over['p50']} ms; {over_note}",
        )
    )
    pair(
        sub_rest,
        sub_seq_http,
        http["latency_ms"]["kefu_rest"],
        http["latency_ms"]["sequential_http"],
        http["over_slowest_source_ms"]["kefu_rest"],
        _join(
            "kefu serve, agent token, JSON; the baseline handler has no FastAPI, bridge or auth",
            _not_ok(http["states"]["kefu_rest"], "ok"),
            f"failed requests {http['problems']}" if http["problems"] else "",
            _neighbour_note(http["cpu"]),
            f"client loop stalled up to {http['loadgen_loop_lag_max_ms']} ms"
            if http["loadgen_loop_lag_max_ms"] >= 20
            else "",
        ),
    )


# The HTTP throughput variants of ``c360_cached``: (name, server, path, extra).
VARIANTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("aiohttp /ping (floor)", "baseline", "/ping", {}),
    ("kefu /healthz (FastAPI+bridge floor)", "kefu", "/healthz", {}),
    ("kefu /customers/sources (+ agent auth deps, no 360)", "kefu", SOURCES_PATH, {}),
    (
        "aiohttp unified()+View.json() (no FastAPI/bridge/auth)",
        "baseline",
        f"/par/{KEY}/360",
        {"check": "json360"},
    ),
    ("kefu REST JSON", "kefu", REST_PATH, {"check": "json360"}),
    (
        "kefu REST protobuf",
        "kefu",
        REST_PATH,
        {"check": "protobuf360", "headers": {"Accept": PROTOBUF}},
    ),
)
REST_JSON = "kefu REST JSON"
PLAIN_360 = "aiohttp unified()+View.json() (no FastAPI/bridge/auth)"


def _refresh(servers: Servers) -> None:
    """Refetch every source, so each variant runs well inside the 60 s TTL."""
    auth = {"Authorization": f"Bearer {servers.token}"}
    _http("GET", f"{servers.kefu_base}{REST_PATH}?refresh=true", headers=auth)
    _http("GET", f"{servers.baseline_base}/par/{KEY}/360?refresh=true")


def run_cached(ctx: Context) -> Outcome:
    sizes = SIZES[ctx.profile.name]
    outcome = Outcome()
    with simulators(ctx) as urls:
        config = write_config(ctx, urls, CACHED_TTL_S, "cached")
        ctx.log(f"{CACHED}: in-process, {sizes.cached_calls_inproc} cached unified() calls")
        inproc = run_child_job(
            {
                "job": "inproc_cached",
                "config": str(config),
                "key": KEY,
                "calls": sizes.cached_calls_inproc,
                "budget_s": 30.0,
            },
            ctx.cpus.server,
            ctx.cpus,
            150.0,
        )
        outcome.details["inproc"] = inproc
        ctx.log(f"{CACHED}: FastAPI app in-process (ASGI calls, no HTTP)")
        asgi = run_child_job(
            {
                "job": "inproc_asgi",
                "config": str(config),
                "data_dir": str(ctx.run_dir / "c360-asgi-data"),
                "calls": sizes.asgi_calls,
            },
            ctx.cpus.server,
            ctx.cpus,
            180.0,
        )
        outcome.details["asgi"] = asgi
        http: dict[str, list[dict[str, Any]]] = {}
        with kefu_and_baseline(ctx, config, "cached") as servers:
            for attempt in range(sizes.tries):
                for name, which, path, extra in VARIANTS:
                    ctx.log(f"{CACHED}: HTTP {name} (try {attempt + 1})")
                    _refresh(servers)
                    before = sim_requests(urls)
                    result = run_child_job(
                        {
                            "job": "http_throughput",
                            "target": servers.target(name, which, path, **copy.deepcopy(extra)),
                            "server_pid": servers.kefu_pid
                            if which == "kefu"
                            else servers.baseline_pid,
                            "connections": sizes.connections,
                            "requests": sizes.cached_requests_http,
                            "seconds": sizes.cached_seconds_http,
                            "warmup": 500,
                        },
                        ctx.cpus.loadgen,
                        ctx.cpus,
                        sizes.cached_seconds_http + 60,
                    )
                    after = sim_requests(urls)
                    result["source_requests_during"] = sum(after.values()) - sum(before.values())
                    http.setdefault(name, []).append(result)
            ctx.log(f"{CACHED}: py-spy on kefu under REST JSON load ({sizes.pyspy_seconds}s)")
            _refresh(servers)
            profile = pyspy_profile(ctx, servers, sizes)
        outcome.details["http"] = http
        outcome.details["pyspy"] = profile
    outcome.details["config"] = json.loads(config.read_text())
    outcome.details["code"] = git_state()
    _cached_rows(outcome, inproc, asgi, http, profile)
    return outcome


def _best(tries: list[dict[str, Any]]) -> dict[str, Any]:
    return max(tries, key=lambda r: r["req_per_s"])


def _cached_rows(
    outcome: Outcome,
    inproc: dict[str, Any],
    asgi: dict[str, Any],
    http: dict[str, list[dict[str, Any]]],
    profile: dict[str, Any],
) -> None:
    rows = outcome.rows
    sub = "kefu unified() in-process"
    u = inproc["unified_us"]
    p99_ms = None if u["p99"] is None else round(u["p99"] / 1000, 4)
    target, met = at_most(p99_ms, CACHED_P99_TARGET_MS)
    not_cached = {k: v for k, v in inproc["end_states"].items() if v != "STATE_CACHED"}
    rows.append(
        Row(
            CACHED,
            sub,
            "360_cached_p99_ms",
            p99_ms,
            "ms",
            better="lower",
            target=target,
            met=met,
            note=_join(
                f"n={u['n']}, p50 {u['p50']} us, max {u['max']} us, one call at a time",
                f"not cached: {not_cached}" if not_cached else "",
                _neighbour_note(inproc["cpu"]),
            ),
        )
    )
    rows.append(
        Row(
            CACHED,
            sub,
            "calls_per_s_one_loop",
            inproc["calls_per_s_one_loop"],
            "calls/s",
            better="higher",
            note="1 / mean call time, no HTTP",
        )
    )
    protobuf_name = "View.message().SerializeToString() (REST protobuf)"
    for name, enc in inproc["encoders_us"].items():
        rows.append(
            Row(
                CACHED,
                name,
                "encode_us_p50",
                enc["p50"],
                "us",
                better="lower",
                baseline=(CACHED, protobuf_name, "encode_us_p50")
                if name != protobuf_name
                else None,
                note=f"p99 {enc['p99']} us; JSON {inproc['json_bytes']} B, "
                f"protobuf {inproc['protobuf_bytes']} B; fresh View per call"
                if name.startswith("View")
                else f"p99 {enc['p99']} us; the same message each call",
            )
        )
    for name, result in asgi.items():
        wall = result["wall_us"]
        cpu = result.get("cpu_us_per_call")
        bad = {k: v for k, v in result.get("statuses", {}).items() if k != "200"}
        rows.append(
            Row(
                CACHED,
                f"FastAPI app in-process: {name}",
                "asgi_call_us_p50",
                wall["p50"],
                "us",
                better="lower",
                note=_join(
                    f"p99 {wall['p99']} us",
                    f"cpu {cpu} us/call" if cpu is not None else "",
                    "no aiohttp, no bridge, one call at a time",
                    f"non-200 {bad}" if bad else "",
                ),
            )
        )
    for name, tries in http.items():
        best = _best(tries)
        problems = sum(best["problems"].values())
        non200 = sum(v for k, v in best["statuses"].items() if k != "200")
        notes = [
            f"{best['connections']} conns, {best['requests']} req in {best['seconds']} s, "
            f"p50 {best['latency_ms']['p50']} ms p99 {best['latency_ms']['p99']} ms",
            f"server cpu {best['server_cpu_pct']}%, client cpu {best['own_cpu_pct']}%",
            _neighbour_note(best),
            f"non-200 {non200}" if non200 else "",
            f"problems {best['problems']}" if problems else "",
            f"{best['source_requests_during']} source fetches during the run"
            if best.get("source_requests_during")
            else "",
            f"best of {len(tries)}: {[t['req_per_s'] for t in tries]}" if len(tries) > 1 else "",
        ]
        target = met = None
        if name == REST_JSON:
            target, met = at_least(best["req_per_s"], CACHED_RATE_TARGET)
        rows.append(
            Row(
                CACHED,
                name,
                "req_per_s",
                best["req_per_s"],
                "req/s",
                better="higher",
                target=target,
                met=met,
                baseline=(CACHED, PLAIN_360, "req_per_s") if name == REST_JSON else None,
                note=_join(*notes),
            )
        )
        cpu = best["server_cpu_us_per_req"]
        capacity = round(1e6 / cpu) if cpu else None
        rows.append(
            Row(
                CACHED,
                name,
                "server_cpu_us_per_req",
                cpu,
                "us",
                better="lower",
                baseline=(CACHED, PLAIN_360, "server_cpu_us_per_req")
                if name == REST_JSON
                else None,
                note=f"net of idle ({best['server_idle_cpu_pct']}% of a core); "
                f"a whole core would serve ~{capacity} req/s"
                if capacity
                else "",
            )
        )
    for part in profile.get("parts", [])[:8]:
        rows.append(
            Row(
                CACHED,
                f"py-spy kefu REST JSON: {part['part']}",
                "share_of_cpu_samples",
                part["pct"],
                "%",
                note=part.get("example", ""),
            )
        )


# py-spy ------------------------------------------------------------------------------

# Where a sample's time goes: the innermost frame outside the standard library decides.
# A pattern with "(" matches the frame's start ("View.json (": that function), else the
# start of its file path.
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("JSON: View.json, render.py, msgspec", ("View.json (", "kefu/unify/render.py")),
    (
        "protobuf runtime: View.message, Serialize, Timestamp.ToJsonString",
        ("View.message (", "google/protobuf/", "protobuf/"),
    ),
    ("unified(): memo hit, View, metrics call", ("kefu/unify/", "kefu/cache/")),
    ("prometheus_client metrics", ("prometheus_client/",)),
    (
        "auth: JWT decode, principal (PyJWT, kefu/auth, deps)",
        ("kefu/auth/", "kefu/api/deps.py", "jwt/"),
    ),
    (
        "thread pool hop: sync FastAPI dependency (anyio, run_in_threadpool)",
        ("anyio/", "starlette/concurrency.py"),
    ),
    ("REST handler (routes/customers.py)", ("kefu/api/routes/",)),
    ("kefu API errors/app", ("kefu/api/",)),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("FastAPI: routing, dependency injection, params", ("fastapi/",)),
    ("Starlette: routing, Request/Response, middleware", ("starlette/",)),
    ("aiohttp-asgi bridge", ("aiohttp_asgi/",)),
    ("kefu aiohttp middlewares (CORS, errors, headers)", ("kefu/server.py", "kefu/web/")),
    ("event loop (uvloop in C: socket I/O, callbacks)", ("run (kefu/runner.py",)),
    ("kefu other", ("kefu/",)),
    ("aiohttp HTTP server (parse, write)", ("aiohttp/", "multidict/", "yarl/")),
    ("grpc", ("grpc/",)),
)
# Frames of the standard library are skipped when attributing a sample.
_STDLIB_FILES = """asyncio/ contextlib.py typing.py functools.py enum.py abc.py inspect.py json/
    datetime.py email/ http/ urllib/ logging/ re/ dataclasses.py copy.py collections/
    weakref.py threading.py selectors.py socket.py base64.py hmac.py hashlib.py uuid.py
    _weakrefset.py string.py types.py warnings.py ipaddress.py traceback.py queue.py
    concurrent/"""
STDLIB = tuple(_STDLIB_FILES.split())
# Inclusive shares: samples with this frame anywhere on the stack.
INCLUSIVE: tuple[tuple[str, str], ...] = (
    ("samples with an aiohttp_asgi frame", "aiohttp_asgi/"),
    ("samples with a fastapi frame", "fastapi/"),
    ("kefu REST handler (routes/customers.py unified)", "unified (kefu/api/routes/customers.py"),
    ("anyio worker threads", "WorkerThread.run (anyio/"),
    ("run_in_threadpool (loop side of the hop)", "run_in_threadpool (starlette/concurrency.py"),
    ("FastAPI solve_dependencies", "solve_dependencies (fastapi/"),
    ("Customer360.unified", "Customer360.unified (kefu/unify/service.py"),
    ("View.json", "View.json (kefu/unify/service.py"),
    ("auth principal", "principal (kefu/api/deps.py"),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*):(?P<line>\d+)\)$")


def _matches(frame: str, path: str, patterns: tuple[str, ...]) -> bool:
    return any(frame.startswith(p) if "(" in p else path.startswith(p) for p in patterns)


def parse_pyspy_raw(text: str) -> dict[str, Any]:
    """Shares of samples by part (innermost non-stdlib frame), inclusive shares of key
    frames, and the top self-time functions, from py-spy's ``--format raw``."""
    parts: Counter[str] = Counter()
    examples: dict[str, Counter[str]] = defaultdict(Counter)
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        for label, marker in INCLUSIVE:
            if marker in stack:
                inclusive[label] += count
        leaves[frames[-1]] += count
        part = "stdlib only (asyncio, ...)"
        example = frames[-1]
        for frame in reversed(frames):
            match = _FRAME.match(frame)
            path = match["path"] if match else frame
            if path.startswith(STDLIB) or path.startswith("<"):
                continue
            part = next(
                (name for name, patterns in PARTS if _matches(frame, path, patterns)), "other"
            )
            example = frame
            break
        parts[part] += count
        examples[part][example] += count
    if not total:
        return {"samples": 0, "parts": []}

    def pct(n: int) -> float:
        return round(100 * n / total, 1)

    return {
        "samples": total,
        "note": "a stack starts at its asyncio task's coroutine: the FastAPI app runs in a "
        "task of its own, so bridge frames do not sit above FastAPI's",
        "parts": [
            {"part": name, "pct": pct(n), "example": examples[name].most_common(1)[0][0]}
            for name, n in parts.most_common()
        ],
        "inclusive": {label: pct(inclusive[label]) for label, _ in INCLUSIVE},
        "top_leaf_frames": [{"frame": f, "pct": pct(n)} for f, n in leaves.most_common(15)],
    }


def _pyspy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def pyspy_profile(ctx: Context, servers: Servers, sizes: Sizes) -> dict[str, Any]:
    """Sample kefu with py-spy while the REST JSON load runs (not a measured run)."""
    exe = _pyspy()
    if exe is None:
        return {"skipped": "py-spy not installed (.venv/bin/pip install py-spy)"}
    out = ctx.run_dir / "c360-pyspy-kefu-rest-json.txt"
    seconds = sizes.pyspy_seconds
    name, which, path, extra = next(v for v in VARIANTS if v[0] == REST_JSON)
    job = {
        "job": "http_throughput",
        "target": servers.target(name, which, path, **copy.deepcopy(extra)),
        "server_pid": servers.kefu_pid,
        "connections": sizes.connections,
        "requests": 10_000_000,
        "seconds": seconds + 3.0,
        "warmup": 500,
        "idle_sample": False,
    }
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        load = pool.submit(run_child_job, job, ctx.cpus.loadgen, ctx.cpus, seconds + 60)
        time.sleep(1.5)  # connections open, warm-up done
        argv = [
            exe,
            "record",
            "--pid",
            str(servers.kefu_pid),
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
            "--gil",
        ]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                timeout=seconds + 30,
                check=False,
                preexec_fn=lambda: os.sched_setaffinity(0, ctx.cpus.loadgen),
            )
        except subprocess.TimeoutExpired:
            return {"skipped": "py-spy overran its time budget"}
        result = load.result()
    if done.returncode != 0 or not out.exists():
        return {"skipped": f"py-spy exited {done.returncode}: {done.stderr.decode()[-300:]}"}
    parsed = parse_pyspy_raw(out.read_text())
    return {
        **parsed,
        "raw_file": str(out),
        "rate_hz": 250,
        "samples_what": "py-spy --gil: only samples of the thread holding the GIL (Python CPU)",
        "seconds": seconds,
        "load_while_profiled": {k: result[k] for k in ("req_per_s", "server_cpu_pct")},
    }


if __name__ == "__main__":
    _child_main()
