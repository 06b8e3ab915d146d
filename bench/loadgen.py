"""The load generator: one job per process, pinned to the cores the server does not use.

The orchestrator (:mod:`bench.run`) calls :func:`run_job`, which starts
``python -m bench.loadgen`` on the load-generator cores, writes the job as JSON to its
stdin, and reads the result as JSON from its stdout; progress goes to stderr. A job that
overruns its time budget is killed with its process group, so every run stops by itself.

Jobs: ``idle`` (memory per idle socket, and whether the sockets stay open) and ``relay``
(rate-stepped latency), each for protocol ``raw``, ``kefu`` or ``socketio``. Relay jobs
use picows sockets (:mod:`bench.fastws`: Cython frames, a callback per frame, sends that
are plain calls), so the generator costs a fraction of the server's CPU per message; idle
jobs and REST calls keep the aiohttp client (:mod:`bench.wsclient`), which offers
permessage-deflate as browsers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from typing import Any

import uvloop

from bench.drivers.base import IdleDriver, RelayTarget, SocketGroup
from bench.drivers.kefu import KefuChat, KefuIdle
from bench.drivers.relay import RawIdle, RawPairs
from bench.drivers.socketio import SioChat, SioIdle
from bench.lagmetric import LagObserver, ObserverGroup
from bench.procs import CpuPlan, raise_nofile, rss_kb
from bench.stepper import Stepper, StepPlan
from bench.wsclient import Pool

Job = dict[str, Any]
# Handshakes in flight at once: enough to open 15k sockets in seconds, few enough that a
# server's accept backlog is never overrun (a dropped SYN costs a 1 s retransmit).
DEFAULT_CONCURRENCY = 256
# kefu's cluster-link counters, scraped around each step on a two-node run: items sent by
# the visitors' node and received by the agents' node show the messages crossed over NATS.
CLUSTER_COUNTERS = (
    "kefu_cluster_items_sent_total",
    "kefu_cluster_items_received_total",
    "kefu_cluster_items_dropped_total",
)


def log(message: str) -> None:
    print(f"    [loadgen] {message}", file=sys.stderr, flush=True)


def _idle_driver(job: Job, pool: Pool) -> IdleDriver:
    base = job["http_base"]
    concurrency = int(job.get("concurrency", DEFAULT_CONCURRENCY))
    protocol = job["protocol"]
    if protocol == "raw":
        return RawIdle(pool, base.replace("http://", "ws://", 1))
    if protocol == "kefu":
        return KefuIdle(pool, base, concurrency)
    if protocol == "socketio":
        return SioIdle(pool, base)
    raise ValueError(f"unknown protocol {protocol!r}")


async def idle_job(job: Job, pool: Pool) -> dict[str, object]:
    """(RSS after connecting N sockets - RSS before) / N, then hold and count survivors."""
    pid, count = int(job["server_pid"]), int(job["sockets"])
    warmup, settle_s, hold_s = int(job.get("warmup_sockets", 50)), job["settle_s"], job["hold_s"]
    concurrency = int(job.get("concurrency", DEFAULT_CONCURRENCY))
    driver = _idle_driver(job, pool)
    log(f"preparing {count} {job['protocol']} clients")
    await driver.prepare(count + warmup)

    # A few sockets opened and closed first, so one-off costs (imports, first-use buffers,
    # grown dicts) are not charged to the measured sockets.
    warm = SocketGroup()
    await warm.open_many(
        [functools.partial(driver.open_one, count + i) for i in range(warmup)], concurrency
    )
    await asyncio.sleep(0.5)
    await warm.aclose()
    await asyncio.sleep(settle_s)

    rss_before = rss_kb(pid)
    log(f"server RSS before: {rss_before} KiB; opening {count} sockets")
    started = time.monotonic()
    group = SocketGroup()
    results = await group.open_many(
        [functools.partial(driver.open_one, i) for i in range(count)], concurrency
    )
    connect_s = time.monotonic() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    opened_n = len(group.sockets)
    open_after_connect = group.open_count()
    await asyncio.sleep(settle_s)
    rss_after = rss_kb(pid)
    log(f"{opened_n} open in {connect_s:.1f}s; RSS after: {rss_after} KiB; holding {hold_s}s")
    await asyncio.sleep(hold_s)
    still_open = group.open_count()
    rss_held = rss_kb(pid)
    deflate = group.deflate_share()
    close_codes = dict(group.close_codes)  # how sockets ended *before* we closed them
    await group.aclose()
    return {
        "sockets": count,
        "opened": opened_n,
        "failed": len(failures),
        "first_failure": repr(failures[0]) if failures else None,
        "connect_s": round(connect_s, 2),
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "rss_after_hold_kb": rss_held,
        "kb_per_socket": round((rss_after - rss_before) / opened_n, 2) if opened_n else None,
        "hold_s": hold_s,
        "open_after_connect": open_after_connect,
        "open_after_hold": still_open,
        "closed_by_server": close_codes,
        "deflate_negotiated": deflate,
        **driver.describe(),
    }


def _relay_target(job: Job, pool: Pool) -> RelayTarget:
    base = job["http_base"]
    concurrency = int(job.get("concurrency", DEFAULT_CONCURRENCY))
    protocol = job["protocol"]
    if protocol == "raw":
        return RawPairs(base.replace("http://", "ws://", 1), int(job["pairs"]), concurrency)
    # Optional: the agents' server, when it is not the visitors' (two-node runs).
    agent_base = job.get("agent_http_base")
    if protocol == "kefu":
        agents = [(str(a[0]), str(a[1])) for a in job["agents"]]
        return KefuChat(
            pool,
            base,
            int(job["conversations"]),
            agents,
            concurrency,
            job["open_timeout_s"],
            agent_http_base=agent_base,
        )
    if protocol == "socketio":
        return SioChat(
            base,
            int(job["conversations"]),
            int(job["agent_count"]),
            concurrency,
            agent_http_base=agent_base,
        )
    raise ValueError(f"unknown protocol {protocol!r}")


def _kefu_observer(job: Job, target: KefuChat) -> LagObserver | ObserverGroup | None:
    """Loop lag of the visitors' node (keys as on one node) and, on two nodes, of the
    agents' node (keys prefixed ``agent_node_``) with both nodes' cluster counters."""
    if not job.get("lag", True):
        return None
    if not job.get("agent_http_base"):
        return LagObserver(target.api.metrics)
    return ObserverGroup(
        [
            LagObserver(target.api.metrics, counters=CLUSTER_COUNTERS),
            LagObserver(target.agent_api.metrics, "agent_node_", counters=CLUSTER_COUNTERS),
        ]
    )


async def relay_job(job: Job, pool: Pool) -> dict[str, object]:
    target = _relay_target(job, pool)
    plan = StepPlan(**job["plan"])
    log(f"opening {job['protocol']} relay sockets")
    started = time.monotonic()
    await target.open()
    log(f"open in {time.monotonic() - started:.1f}s; stepping {plan.rates}")
    # Setup objects (sockets, tasks) never die during the steps: keep the collector from
    # rescanning them, so a full collection does not add milliseconds to the latencies.
    gc.collect()
    gc.freeze()
    observer = _kefu_observer(job, target) if isinstance(target, KefuChat) else None
    # One server pid, or several (a cluster on the server cores) whose CPU is summed;
    # services (a broker) are reported apart.
    pids = [int(p) for p in job["server_pids"]] if "server_pids" in job else int(job["server_pid"])
    # A service is a pid, or a process name standing for all processes of that name.
    services: dict[str, int | str] = {
        str(k): v if isinstance(v, str) else int(v) for k, v in job.get("service_pids", {}).items()
    }
    try:
        cores = CpuPlan(frozenset(job["server_cpus"]), frozenset(job["loadgen_cpus"]))
        result = await Stepper(target, pids, cores, observer, services).run(plan)
    finally:
        setup = target.describe()
        await target.aclose()
    for step in result["steps"]:  # type: ignore[attr-defined]
        log(
            f"rate {step['rate']:>7.0f}/s p99 {step['delivery']['p99_ms']} ms "
            f"lost {step['delivery']['lost']} server cpu {step['server_cpu_pct']}% "
            f"loadgen cpu {step['loadgen_cpu_pct']}% ({step['loadgen_cpu_us_per_msg']} us/msg) "
            f"{'ok' if step['passed'] else 'FAIL'}"
        )
    return {**result, "setup": setup}


async def _main_async(job: Job) -> dict[str, object]:
    async with Pool(compress=int(job.get("compress", 15))) as pool:
        if job["job"] == "idle":
            return await idle_job(job, pool)
        if job["job"] == "relay":
            return await relay_job(job, pool)
    raise ValueError(f"unknown job {job['job']!r}")


def main() -> None:
    """Child side: read one job from stdin, print one JSON result line on stdout."""
    raise_nofile()
    job: Job = json.loads(sys.stdin.read())
    try:
        result = uvloop.run(_main_async(job))
        print(json.dumps({"ok": True, "result": result}))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)


class LoadgenError(RuntimeError):
    """A load-generator job failed or overran its budget; ``job`` names which."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


def run_job(job: Job, timeout_s: float, cpus: CpuPlan) -> dict[str, Any]:
    """Parent side: run ``job`` on the load-generator cores; kill it after ``timeout_s``."""
    # The child measures both sides' cores, and cannot learn them from its own affinity.
    job = {**job, "server_cpus": sorted(cpus.server), "loadgen_cpus": sorted(cpus.loadgen)}

    def pin() -> None:
        os.sched_setaffinity(0, cpus.loadgen)

    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.loadgen"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=pin,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(json.dumps(job).encode(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise LoadgenError(f"load generator overran its {timeout_s:.0f}s budget", job) from None
    lines = out.decode(errors="replace").strip().splitlines()
    if not lines:
        raise LoadgenError(f"load generator exited {proc.returncode} with no result", job)
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        raise LoadgenError(str(answer.get("error")), job)
    result: dict[str, Any] = answer["result"]
    return result


if __name__ == "__main__":
    main()
