"""Scenario ``kefu_sockets_workers``: one machine, ``kefu serve --workers 3`` on PostgreSQL.

Issue 17, item 3: 50,000 concurrent sockets (one process may hold at most 20,000 open
files here, so no single worker can), at most 20 KB each, a flash sale's ≥ 1,000 new
visitor sessions/s across the workers with no failed creation, and the chat relay
working across workers. Several workers are several nodes (docs/scaling.md): PostgreSQL
(a fresh ``kefu_bench_workers`` database), the machine's NATS for the cluster link
(a subject per run) and Redis (database 8, flushed) for the shared limits. SQLite is not
a multi-worker store: ``kefu serve`` refuses ``--workers`` on it.

The load generator is several processes (``bench.sockets_fleet``, ≤ 15,000 sockets
each), stepped together:

1. every process creates its share of visitors over ``POST /api/v1/visitors`` at once:
   sessions/s over the whole burst, failures by kind, per-creation latency, and the CPU
   of kefu's processes, PostgreSQL, Redis and the generators over it;
2. a few sockets opened and closed (warm-up), then the workers' RSS is summed;
3. one socket per visitor, spread over 127.0.0.2-9; RSS summed again once settled;
   (after - before) / sockets is the row;
4. held past kefu's heartbeat (the full profile's 30 s > 25 s): how many are still open;
5. while they are held, a visitor on one worker chats with an agent on another
   (``bench.cross_worker_relay``).

Every process runs on every core, the server's too: the target is per machine, and on
two cores three workers pinned to one would measure the pinning. Other users' load on
the machine is in every figure (the run's ``uptime`` is recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from bench import cross_worker_relay
from bench.kefu_proc import GRPC_PORT_ENV, add_agents, kefu_argv, node_env
from bench.pg import fresh_database
from bench.procs import (
    cpu_seconds,
    free_port,
    pids_named,
    rss_kb,
    running,
    start_server,
    wait_http_ready,
)
from bench.scenarios.cluster import NATS_URL, require_tcp
from bench.scenarios.common import Context, Outcome, Row, at_least, at_most
from bench.sockets_fleet import SOCKETS_PER_PROCESS, FleetParent

NAME = "kefu_sockets_workers"
SUBJECT = "kefu, 3 workers, postgresql"
WORKERS = 3
PG_DATABASE = "kefu_bench_workers"
REDIS_URL = "redis://127.0.0.1:6379/8"  # the bench's own database, flushed per run
KB_PER_SOCKET_TARGET = 20.0
SESSIONS_PER_S_TARGET = 1_000.0
FULL_SOCKETS = 50_000
QUICK_SOCKETS = 3_000
# Creations in flight per generator process: a flash sale is many browsers at once.
CONCURRENCY = 48


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's children: the serving processes."""
    path = Path(f"/proc/{supervisor}/task/{supervisor}/children")
    return [int(p) for p in path.read_text().split()]


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def uptime() -> str:
    """The load averages (1, 5, 15 min), as ``uptime`` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            total += cpu_seconds(pid)
    return total


def run(ctx: Context) -> Outcome:
    if not ctx.postgres:
        raise RuntimeError("needs PostgreSQL: workers refuse SQLite (docs/operations.md)")
    require_tcp("127.0.0.1", 4222, "NATS")
    require_tcp("127.0.0.1", 6379, "Redis")
    n = FULL_SOCKETS if ctx.profile.name == "full" else QUICK_SOCKETS
    redis.Redis.from_url(REDIS_URL).flushdb()
    store = fresh_database(ctx.pg_admin_dsn, PG_DATABASE)
    env = {
        **node_env(ctx, "workers", store, capacity=10),
        "KEFU_BUS": NATS_URL,
        "KEFU_CACHE": REDIS_URL,
        "KEFU_CLUSTER__SUBJECT": f"bench.workers.{uuid.uuid4().hex[:8]}",
        "KEFU_WORKERS": str(WORKERS),
        GRPC_PORT_ENV: str(free_port()),
        "KEFU_LOG_LEVEL": "warning",
    }
    agent_email, agent_password = add_agents(env, 1, 10, ctx.run_dir)[0]
    port = free_port()
    everywhere = ctx.cpus.server | ctx.cpus.loadgen
    server = start_server(
        "kefu-workers",
        kefu_argv("serve", "--host", "127.0.0.1", "--port", str(port)),
        cpus=everywhere,
        log_dir=ctx.run_dir,
        env=env,
        cwd=ctx.run_dir,
    )
    base = f"http://127.0.0.1:{port}"
    outcome = Outcome()
    with running(server):
        wait_http_ready(server, f"{base}/healthz")
        _wait_workers(server.pid)
        details = _measure(ctx, server.pid, base, n, (agent_email, agent_password))
        details["server_alive_after"] = server.alive()
    outcome.details.update(details)
    outcome.rows.extend(_rows(details, n))
    return outcome


def _wait_workers(supervisor: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(worker_pids(supervisor)) < WORKERS:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{WORKERS} workers did not start")
        time.sleep(0.2)


def _measure(
    ctx: Context, supervisor: int, base: str, n: int, agent: tuple[str, str]
) -> dict[str, Any]:
    workers = worker_pids(supervisor)
    kefu = [supervisor, *workers]
    processes = max(2, math.ceil(n / SOCKETS_PER_PROCESS))
    fleet = FleetParent(base, n, processes, CONCURRENCY)
    details: dict[str, Any] = {"workers": workers, "generators": processes, "sockets": n}
    try:
        details["load_before"] = uptime()
        ctx.log(f"{NAME}: {processes} generators creating {n} visitor sessions")
        postgres, others = pids_named("postgres"), pids_named("redis-server")
        cpu0 = (_cpu(kefu), _cpu(postgres), _cpu(others), _cpu(fleet.pids()))
        created = fleet.command("create", 120 + n / 50)
        cpu1 = (_cpu(kefu), _cpu(postgres), _cpu(others), _cpu(fleet.pids()))
        details["create"] = _creation(created, cpu0, cpu1)
        details["load_after_create"] = uptime()
        ctx.log(f"{NAME}: {details['create']}")
        fleet.command("warm", 120)
        time.sleep(ctx.profile.settle_s)
        before = {pid: rss_kb(pid) for pid in workers}
        ctx.log(f"{NAME}: opening {n} sockets")
        opened = fleet.command("open", 120 + n / 50)
        time.sleep(ctx.profile.settle_s)
        after = {pid: rss_kb(pid) for pid in workers}
        per_worker_files = {pid: open_files(pid) for pid in workers}
        sockets = sum(a["opened"] for a in opened)
        details["open"] = {
            "opened": sockets,
            "failed": sum(a["failed"] for a in opened),
            "failures": _merged(a["failures"] for a in opened),
            "connect_s": max(a["connect_s"] for a in opened),
            "rss_before_kb": before,
            "rss_after_kb": after,
            "open_files_per_worker": per_worker_files,
            "kb_per_socket": round((sum(after.values()) - sum(before.values())) / sockets, 2)
            if sockets
            else None,
        }
        ctx.log(f"{NAME}: {details['open']}; holding {ctx.profile.hold_s:g}s")
        held_from = time.monotonic()
        try:
            details["relay"] = asyncio.run(cross_worker_relay.check(base, *agent))
        except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
            details["relay"] = {"crossed": False, "why": f"{type(exc).__name__}: {exc}"}
        ctx.log(f"{NAME}: relay across workers {details['relay']}")
        time.sleep(max(0.0, ctx.profile.hold_s - (time.monotonic() - held_from)))
        checked = fleet.command("check", 60)
        details["hold"] = {
            "hold_s": ctx.profile.hold_s,
            "open_after_hold": sum(c["open"] for c in checked),
            "ended": _merged(c["ended"] for c in checked),
            "rss_held_kb": {pid: rss_kb(pid) for pid in workers},
        }
        details["load_after_hold"] = uptime()
    finally:
        fleet.close()
    return details


def _merged(counts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            out[key] = out.get(key, 0) + value
    return out


def _creation(
    answers: list[dict[str, Any]], cpu0: tuple[float, ...], cpu1: tuple[float, ...]
) -> dict[str, Any]:
    created = sum(a["created"] for a in answers)
    wall = max(a["t1"] for a in answers) - min(a["t0"] for a in answers)
    spent = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
    per = (lambda s: round(s / created * 1e6, 1)) if created else (lambda s: None)
    return {
        "created": created,
        "failed": sum(a["failed"] for a in answers),
        "failures": _merged(a["failures"] for a in answers),
        "wall_s": round(wall, 2),
        "per_s": round(created / wall, 1) if wall > 0 else None,
        "latency_ms_per_generator": [a["latencies_ms"] for a in answers],
        "cpu_us_per_session": {
            "kefu": per(spent[0]),
            "postgres": per(spent[1]),
            "redis": per(spent[2]),
            "generators": per(spent[3]),
        },
    }


def _rows(details: dict[str, Any], n: int) -> list[Row]:
    create, opened, hold, relay = (
        details["create"],
        details["open"],
        details["hold"],
        details["relay"],
    )
    load = f"load {details['load_before']} -> {details['load_after_hold']}"
    rows = []
    target, met = at_least(create["per_s"], SESSIONS_PER_S_TARGET)
    rows.append(
        Row(
            NAME,
            SUBJECT,
            "visitor_sessions_per_s",
            create["per_s"],
            "sessions/s",
            better="higher",
            target=target,
            met=met,
            note=f"{create['created']} created by {details['generators']} processes in "
            f"{create['wall_s']}s; CPU us per session {create['cpu_us_per_session']}; {load}",
        )
    )
    target, met = at_most(create["failed"], 0)
    rows.append(
        Row(
            NAME,
            SUBJECT,
            "visitor_sessions_failed",
            create["failed"],
            "sessions",
            better="lower",
            target=target,
            met=met,
            note=str(create["failures"] or "none"),
        )
    )
    target, met = at_most(opened["kb_per_socket"], KB_PER_SOCKET_TARGET)
    rows.append(
        Row(
            NAME,
            SUBJECT,
            "kb_per_idle_socket",
            opened["kb_per_socket"],
            "KB",
            better="lower",
            target=target,
            met=met,
            note=f"RSS summed over the 3 workers; open files per worker "
            f"{sorted(opened['open_files_per_worker'].values())}; picows clients (no deflate "
            f"offered; kefu accepts none by default)",
        )
    )
    still = hold["open_after_hold"]
    target, met = at_least(still, n)
    ended = hold["ended"]
    rows.append(
        Row(
            NAME,
            SUBJECT,
            "sockets_open_after_hold",
            still,
            "sockets",
            better="higher",
            target=target,
            met=met,
            note=f"{opened['opened']} opened ({opened['failed']} failed), held "
            f"{hold['hold_s']:g}s" + (f"; ended early: {ended}" if ended else ""),
        )
    )
    crossed = bool(relay.get("crossed"))
    rows.append(
        Row(
            NAME,
            SUBJECT,
            "relay_across_workers_ms",
            relay.get("visitor_to_agent_ms"),
            "ms",
            better="lower",
            target="delivered both ways",
            met=crossed,
            note=(
                f"visitor on worker {relay.get('visitor_worker')}, agent on "
                f"{relay.get('agent_worker')}; back in {relay.get('agent_to_visitor_ms')} ms; "
                f"with {n} sockets held"
            )
            if crossed
            else str(relay.get("why")),
        )
    )
    return rows
