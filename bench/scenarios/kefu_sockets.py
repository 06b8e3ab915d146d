"""Scenario ``kefu_sockets``: what an idle visitor socket costs kefu, and that it stays open.

``kefu serve`` with its embedded defaults (SQLite under a fresh ``KEFU_DATA_DIR``); visitors
are created over REST first (so their rows are not charged to the sockets), then one
WebSocket each is opened offering permessage-deflate, as browsers do, and held longer
than kefu's heartbeat interval. Baseline: python-socketio with the same socket count.
"""

from __future__ import annotations

from bench.kefu_proc import node_env, start_kefu
from bench.loadgen import run_job
from bench.procs import running
from bench.scenarios.common import Context, Outcome, Row, at_least, at_most

NAME = "kefu_sockets"
# DESIGN target: 15k sockets per node in well under 300 MB of socket state.
KB_PER_SOCKET_TARGET = 20.0


def run(ctx: Context) -> Outcome:
    n = ctx.profile.kefu_idle_sockets
    outcome = Outcome()
    server, base = start_kefu(ctx, "sockets", node_env(ctx, "sockets"))
    with running(server):
        ctx.log(f"{NAME}: creating {n} visitors and opening their sockets")
        job = {
            "job": "idle",
            "compress": ctx.deflate_wbits,
            "protocol": "kefu",
            "http_base": base,
            "server_pid": server.pid,
            "sockets": n,
            "settle_s": ctx.profile.settle_s,
            "hold_s": ctx.profile.hold_s,
        }
        # Visitor creation over REST dominates: budget it at a pessimistic 25/s.
        budget = 180 + n / 25 + 2 * ctx.profile.settle_s + ctx.profile.hold_s
        idle = run_job(job, budget, ctx.cpus)
        idle["server_alive_after"] = server.alive()
    outcome.details["idle"] = idle
    kb = idle["kb_per_socket"]
    target, met = at_most(kb, KB_PER_SOCKET_TARGET)
    outcome.rows.append(
        Row(
            NAME,
            "kefu",
            "kb_per_idle_socket",
            kb,
            "KB",
            better="lower",
            target=target,
            met=met,
            baseline=("socketio_baseline", "python-socketio", "kb_per_idle_socket"),
            note=f"deflate accepted on {idle['deflate_negotiated']:.0%}; "
            f"{idle['visitor_create_s']}s to create {n} visitors",
        )
    )
    still_open = idle["open_after_hold"]
    target, met = at_least(still_open, n)
    closed = idle["closed_by_server"]
    outcome.rows.append(
        Row(
            NAME,
            "kefu",
            "sockets_open_after_hold",
            still_open,
            "sockets",
            better="higher",
            target=target,
            met=met,
            note=f"held {idle['hold_s']:g}s" + (f"; ended early: {closed}" if closed else ""),
        )
    )
    return outcome
