"""Scenario ``socketio_baseline``: the chat relay a Python developer would otherwise write.

python-socketio's AsyncServer on aiohttp (:mod:`bench.socketio_server`): memory per idle
socket with as many sockets as ``kefu_sockets`` opens, then the same rate-stepped relay
as ``kefu_relay`` (same conversations, agents, frames, steps and p99 objective) on SQLite
and on PostgreSQL. kefu's rows use these as their baselines.
"""

from __future__ import annotations

from typing import Any

from bench.loadgen import run_job
from bench.pg import fresh_database
from bench.procs import free_port, python_argv, running, start_server, wait_http_ready
from bench.scenarios.common import Context, Outcome, Row, relay_rows

NAME = "socketio_baseline"
SUBJECT = "python-socketio"


def _serve(
    ctx: Context, label: str, store_url: str, job: dict[str, Any], budget_s: float
) -> dict[str, Any]:
    port = free_port()
    argv = python_argv("bench.socketio_server", "--port", str(port), "--store", store_url)
    server = start_server(f"{NAME}-{label}", argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir)
    with running(server):
        base = f"http://127.0.0.1:{port}"
        wait_http_ready(server, f"{base}/health")
        return run_job({**job, "http_base": base, "server_pid": server.pid}, budget_s, ctx.cpus)


def _sqlite_url(ctx: Context, label: str) -> str:
    path = ctx.run_dir / f"{NAME}-{label}.db"
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def run(ctx: Context) -> Outcome:
    profile = ctx.profile
    outcome = Outcome()
    n = profile.kefu_idle_sockets
    ctx.log(f"{NAME}: {n} idle sockets")
    idle_job = {
        "job": "idle",
        "compress": ctx.deflate_wbits,
        "protocol": "socketio",
        "sockets": n,
        "settle_s": profile.settle_s,
        "hold_s": profile.hold_s,
    }
    idle_budget = 120 + n / 30 + 2 * profile.settle_s + profile.hold_s
    idle = _serve(ctx, "idle", _sqlite_url(ctx, "idle"), idle_job, idle_budget)
    outcome.details["idle"] = idle
    outcome.rows.append(
        Row(
            NAME,
            SUBJECT,
            "kb_per_idle_socket",
            idle["kb_per_socket"],
            "KB",
            better="lower",
            note=f"{idle['open_after_hold']}/{n} open after {idle['hold_s']:g}s",
        )
    )

    relay_job = {
        "job": "relay",
        "compress": ctx.deflate_wbits,
        "protocol": "socketio",
        "conversations": profile.conversations,
        "agent_count": profile.agents,
        "plan": profile.plan(profile.chat_rates),
    }
    budget = profile.relay_budget_s(profile.chat_rates, 180)
    for label in ["sqlite", "postgresql"] if ctx.postgres else ["sqlite"]:
        ctx.log(f"{NAME}: relay on {label}, {profile.conversations} conversations")
        # A fresh database per server, created only when its turn comes.
        url = _sqlite_url(ctx, "relay") if label == "sqlite" else fresh_database(ctx.pg_admin_dsn)
        relay = _serve(ctx, f"relay-{label}", url, relay_job, budget)
        outcome.details[f"relay_{label}"] = relay
        outcome.rows.extend(relay_rows(NAME, f"{SUBJECT} ({label})", relay, None))
    return outcome
