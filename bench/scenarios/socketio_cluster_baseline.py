"""Scenario ``socketio_cluster_baseline``: multi-server chat as a Python developer would
build it: two python-socketio servers sharing rooms through ``socketio.AsyncRedisManager``.

Two :mod:`bench.socketio_server` processes on the server core, on one fresh PostgreSQL
database (one INSERT ... RETURNING per message, as the single-server PostgreSQL variant),
both with ``--redis-url`` on the machine's Redis and a pub/sub channel of this run's own.
Agents connect to server B and join their conversations' rooms; visitors connect to
server A. A visitor's ``message`` is stored on A, acked by A, emitted by A to its local
room members (the visitor) and published on Redis, from which B delivers ``message_new``
to the agent. Same conversations, agents, frames, steps and pass rule as ``kefu_relay``;
``kefu_relay_cluster`` uses these rows as its baselines.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.customer360 import git_state
from bench.loadgen import run_job
from bench.pg import fresh_database
from bench.procs import Server, free_port, python_argv, start_server, wait_http_ready
from bench.scenarios.cluster import (
    REDIS_URL,
    SIO_SCENARIO,
    SIO_SUBJECT,
    broker_rows,
    cpu_at_rate_row,
    require_tcp,
    service_pid,
    services,
)
from bench.scenarios.common import Context, Outcome, relay_rows

NAME = SIO_SCENARIO
PG_DB = "kefu_bench_sio_cluster"


def _start(ctx: Context, label: str, store_url: str, channel: str) -> tuple[Server, str]:
    port = free_port()
    argv = python_argv(
        "bench.socketio_server", "--port", str(port), "--store", store_url,
        "--redis-url", REDIS_URL, "--redis-channel", channel,
    )  # fmt: skip
    server = start_server(f"{NAME}-{label}", argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http_ready(server, f"{base}/health")
    except BaseException:
        server.stop()
        raise
    return server, base


def run(ctx: Context) -> Outcome:
    if not ctx.postgres:
        raise RuntimeError("needs PostgreSQL (the servers share their store)")
    require_tcp("127.0.0.1", 6379, "Redis")
    profile = ctx.profile
    outcome = Outcome()
    store_url = fresh_database(ctx.pg_admin_dsn, PG_DB)
    channel = f"bench-sio-{uuid.uuid4().hex[:12]}"
    redis_pid = service_pid("redis-server", 6379)
    ctx.log(f"{NAME}: two servers on Redis channel {channel}, {profile.conversations} convs")
    # One after the other: each creates the messages table IF NOT EXISTS at start, and
    # two concurrent CREATEs of one table can collide in PostgreSQL's catalog.
    a, base_a = _start(ctx, "a", store_url, channel)
    try:
        b, base_b = _start(ctx, "b", store_url, channel)
        try:
            job: dict[str, Any] = {
                "job": "relay",
                "compress": ctx.deflate_wbits,
                "protocol": "socketio",
                "http_base": base_a,
                "agent_http_base": base_b,
                "server_pids": [a.pid, b.pid],
                "service_pids": services("redis", redis_pid),
                "conversations": profile.conversations,
                "agent_count": profile.agents,
                "plan": profile.plan(profile.chat_rates),
            }
            result = run_job(job, profile.relay_budget_s(profile.chat_rates, 180), ctx.cpus)
            result["servers_alive_after"] = [a.alive(), b.alive()]
        finally:
            b.stop()
    finally:
        a.stop()
    outcome.details = {
        "relay": result,
        "redis_channel": channel,
        "redis_pid": redis_pid,
        "code": git_state(),
    }
    outcome.rows.extend(relay_rows(NAME, SIO_SUBJECT, result, None))
    outcome.rows.append(cpu_at_rate_row(NAME, SIO_SUBJECT, result, None))
    if redis_pid:
        outcome.rows.extend(broker_rows(NAME, SIO_SUBJECT, "redis", result, None))
    return outcome
