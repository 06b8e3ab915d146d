"""Scenario ``ws_stacks``: the raw cost of each WebSocket stack, no persistence.

For every stack: KB of server RSS per idle socket (clients offer permessage-deflate), then
the highest relay rate with p99 <= 20 ms over pairs of sockets. Each measurement gets a
fresh server so one does not inherit the other's heap. The baseline is uvicorn's default
WebSocket implementation (``ws="auto"``), what a FastAPI user runs without choosing.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from bench.loadgen import run_job
from bench.procs import free_port, python_argv, running, start_server, wait_http_ready
from bench.scenarios.common import Context, Outcome, Row, at_least, relay_rows

NAME = "ws_stacks"
BASELINE = "uvicorn+websockets-sansio"
# Issue 17's validation of the load generator: on a quiet machine the bare aiohttp relay,
# driven by the picows generator on the other core, passes this rate at p99 <= 20 ms.
AIOHTTP_RELAY_TARGET = 15_000.0


@dataclass(frozen=True)
class Stack:
    name: str
    module: str
    args: tuple[str, ...] = ()


def available_stacks() -> list[Stack]:
    """Every stack installed here; uvicorn's implementations only when importable."""
    stacks = [Stack("aiohttp", "bench.stacks.aiohttp_relay")]
    asgi = "bench.stacks.asgi_relay"
    if importlib.util.find_spec("websockets") is not None:
        stacks.append(Stack(BASELINE, asgi, ("--ws", "websockets-sansio")))
        stacks.append(Stack("uvicorn+websockets-legacy", asgi, ("--ws", "websockets")))
    if importlib.util.find_spec("wsproto") is not None:
        stacks.append(Stack("uvicorn+wsproto", asgi, ("--ws", "wsproto")))
    return stacks


def _measure(ctx: Context, stack: Stack, job: dict[str, Any], budget_s: float) -> dict[str, Any]:
    port = free_port()
    argv = python_argv(stack.module, "--port", str(port), *stack.args)
    name = f"{NAME}-{stack.name}-{job['job']}"
    server = start_server(name, argv, cpus=ctx.cpus.server, log_dir=ctx.run_dir)
    with running(server):
        base = f"http://127.0.0.1:{port}"
        wait_http_ready(server, f"{base}/health")
        return run_job({**job, "http_base": base, "server_pid": server.pid}, budget_s, ctx.cpus)


def run(ctx: Context) -> Outcome:
    profile = ctx.profile
    outcome = Outcome()
    for stack in available_stacks():
        ctx.log(f"{NAME}: {stack.name}: {profile.stack_idle_sockets} idle sockets")
        idle_job = {
            "job": "idle",
            "compress": ctx.deflate_wbits,
            "protocol": "raw",
            "sockets": profile.stack_idle_sockets,
            "settle_s": profile.settle_s,
            "hold_s": profile.hold_s,
        }
        idle_budget = 120 + profile.stack_idle_sockets / 50 + 2 * profile.settle_s + profile.hold_s
        idle = _measure(ctx, stack, idle_job, idle_budget)
        ctx.log(f"{NAME}: {stack.name}: relay over {profile.relay_pairs} pairs")
        relay_job = {
            "job": "relay",
            "compress": ctx.deflate_wbits,
            "protocol": "raw",
            "pairs": profile.relay_pairs,
            "plan": profile.plan(profile.raw_rates),
        }
        relay = _measure(ctx, stack, relay_job, profile.relay_budget_s(profile.raw_rates, 120))
        outcome.details[stack.name] = {"idle": idle, "relay": relay}
        baseline = (NAME, BASELINE, "kb_per_idle_socket")
        outcome.rows.append(
            Row(
                NAME,
                stack.name,
                "kb_per_idle_socket",
                idle["kb_per_socket"],
                "KB",
                better="lower",
                baseline=baseline,
                note=f"{idle['open_after_hold']}/{idle['sockets']} open after "
                f"{idle['hold_s']:g}s, deflate accepted on {idle['deflate_negotiated']:.0%}",
            )
        )
        rows = relay_rows(NAME, stack.name, relay, (NAME, BASELINE, "relay_max_rate_p99_le_20ms"))
        if stack.name == "aiohttp":
            rows[0].target, rows[0].met = at_least(rows[0].value, AIOHTTP_RELAY_TARGET)
        outcome.rows.extend(rows)
    return outcome
