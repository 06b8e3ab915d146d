"""Scenario ``kefu_relay_cluster``: kefu's chat path across two nodes (docs/scaling.md).

Two ``kefu serve`` processes on the server core, on one fresh PostgreSQL database, with
``bus`` on the machine's NATS, the same auth secret and a ``cluster.subject`` of this
run's own. Agents log in and hold their sockets on node B; visitors are created and
connected on node A. A visitor's message is stored and acked on A, and its
``message.new`` reaches the agent through core NATS and B; assignment goes through
PostgreSQL (the agents are online on B, the conversations open on A). Same conversations,
agents, frames, steps and pass rule as ``kefu_relay``; latency runs from when a message
was due to when its ``message.new`` reached the agent's socket on B. Baseline:
``socketio_cluster_baseline`` (two python-socketio servers sharing Redis).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from bench.customer360 import git_state
from bench.kefu_proc import add_agents, node_env, start_kefu
from bench.loadgen import run_job
from bench.pg import fresh_database
from bench.procs import running
from bench.scenarios.cluster import (
    KEFU_SUBJECT,
    NATS_URL,
    SIO_SCENARIO,
    SIO_SUBJECT,
    broker_rows,
    cpu_at_rate_row,
    crossing_note,
    require_tcp,
    service_pid,
    services,
)
from bench.scenarios.common import Context, Outcome, Row, at_most, best_step, relay_rows
from bench.scenarios.kefu_relay import LAG_P99_TARGET_MS, OPEN_TIMEOUT_S

NAME = "kefu_relay_cluster"
PG_DB = "kefu_bench_cluster"
BUS_ENV = "KEFU_BUS"
SECRET_ENV = "KEFU_AUTH__SECRET_KEY"
SUBJECT_ENV = "KEFU_CLUSTER__SUBJECT"


def _cluster_env(
    ctx: Context, label: str, store_url: str, shared: dict[str, str]
) -> dict[str, str]:
    env = node_env(ctx, label, store_url=store_url, capacity=ctx.profile.conversations)
    return {**env, **shared}


def run(ctx: Context) -> Outcome:
    if not ctx.postgres:
        raise RuntimeError("needs PostgreSQL (the nodes share their store and assignment)")
    require_tcp("127.0.0.1", 4222, "NATS")
    profile = ctx.profile
    outcome = Outcome()
    store_url = fresh_database(ctx.pg_admin_dsn, PG_DB)
    subject = f"bench.relay.{uuid.uuid4().hex[:12]}"
    # Every node of a deployment shares these; --kefu-env still overrides them.
    shared = {BUS_ENV: NATS_URL, SECRET_ENV: secrets.token_urlsafe(48), SUBJECT_ENV: subject}
    shared = {**shared, **{k: v for k, v in ctx.kefu_env.items() if k in shared}}
    env_a = _cluster_env(ctx, "cluster-a", store_url, shared)
    env_b = _cluster_env(ctx, "cluster-b", store_url, shared)
    nats_pid = service_pid("nats-server", 4222)
    ctx.log(f"{NAME}: adding {profile.agents} agents with the CLI (shared store)")
    agents = add_agents(env_a, profile.agents, profile.conversations, ctx.run_dir)
    # One after the other: each node migrates the shared store at start.
    a, base_a = start_kefu(ctx, "cluster-a", env_a)
    with running(a):
        b, base_b = start_kefu(ctx, "cluster-b", env_b)
        with running(b):
            ctx.log(f"{NAME}: visitors on A, agents on B, subject {subject}; stepping")
            job: dict[str, Any] = {
                "job": "relay",
                "compress": ctx.deflate_wbits,
                "protocol": "kefu",
                "http_base": base_a,
                "agent_http_base": base_b,
                "server_pids": [a.pid, b.pid],
                "service_pids": services("nats", nats_pid),
                "conversations": profile.conversations,
                "agents": agents,
                "open_timeout_s": OPEN_TIMEOUT_S,
                "plan": profile.plan(profile.chat_rates),
            }
            setup_s = 120 + OPEN_TIMEOUT_S + profile.conversations / 25
            budget = profile.relay_budget_s(profile.chat_rates, setup_s)
            result = run_job(job, budget, ctx.cpus)
            result["servers_alive_after"] = [a.alive(), b.alive()]
    outcome.details = {
        "relay": result,
        "cluster_subject": subject,
        "nats_pid": nats_pid,
        "code": git_state(),
    }
    metric = "relay_max_rate_p99_le_20ms"
    rows = relay_rows(NAME, KEFU_SUBJECT, result, (SIO_SCENARIO, SIO_SUBJECT, metric))
    rows[0].note = "; ".join(n for n in (rows[0].note, crossing_note(result)) if n)
    outcome.rows.extend(rows)
    baseline = (SIO_SCENARIO, SIO_SUBJECT, metric)
    outcome.rows.append(cpu_at_rate_row(NAME, KEFU_SUBJECT, result, baseline))
    if nats_pid:
        outcome.rows.extend(broker_rows(NAME, KEFU_SUBJECT, "nats", result, baseline))
    at_best = best_step(result) or (result["steps"][0] if result.get("steps") else None)
    if at_best is None:
        return outcome
    for prefix, node in (("", "visitors' node A"), ("agent_node_", "agents' node B")):
        lag = at_best.get(f"{prefix}loop_lag_p99_ms_le")
        target, met = at_most(lag, LAG_P99_TARGET_MS)
        outcome.rows.append(
            Row(
                NAME,
                KEFU_SUBJECT,
                f"{prefix}loop_lag_p99_at_max_rate",
                lag,
                "ms",
                better="lower",
                target=target,
                met=met,
                note=f"{node}, bucket upper bound, at {at_best['rate']:g} msg/s",
            )
        )
    return outcome
