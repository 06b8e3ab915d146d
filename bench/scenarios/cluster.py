"""What the two-server relay scenarios share: the machine's broker, and rows about it.

``kefu_relay_cluster`` and ``socketio_cluster_baseline`` run two server processes each on
the server core, visitors on one and agents on the other, so every message crosses a
broker: NATS for kefu, Redis pub/sub for python-socketio. Those brokers are the machine's
own services (NATS 4222, Redis 6379), unpinned and possibly used by other engineers'
tests at the same time: their CPU is reported per message beside the servers', never
summed into the servers' figures.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

from bench.procs import pids_named
from bench.scenarios.common import BaselineKey, Row

NATS_URL = "nats://127.0.0.1:4222"
# Pub/sub channels ignore the database number; each run's channel name is its own.
REDIS_URL = "redis://127.0.0.1:6379/0"
KEFU_SUBJECT = "kefu (2 nodes, NATS, postgresql)"
SIO_SUBJECT = "python-socketio (2 servers, Redis, postgresql)"
SIO_SCENARIO = "socketio_cluster_baseline"
BROKER_METRIC = "broker_cpu_us_per_msg"
TOTAL_METRIC = "servers_and_broker_cpu_us_per_msg"
POSTGRES = "postgresql"
# The second step of both profiles' chat rates. Both servers' CPU per message falls as
# the rate rises (per-wake-up costs spread over more messages; kefu also batches commits
# and NATS publishes per loop iteration), so one rate alone can mislead. python-socketio's
# pair passes this rate on a quiet machine and fills its shared core near 1,000 msg/s:
# at 500 both are measured at a rate both sustain.
COMPARE_RATE = 500.0


def require_tcp(host: str, port: int, what: str) -> None:
    """Raise with a clear reason when ``what`` does not accept connections."""
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        raise RuntimeError(f"{what} not reachable at {host}:{port}: {exc}") from exc


def service_pid(comm: str, port: int) -> int | None:
    """Pid of the running ``comm`` process (by /proc/PID/comm), preferring the one whose
    command line names ``port``; None when there is none (its CPU is then not reported)."""
    found: list[tuple[int, str]] = []
    for pid in pids_named(comm):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append((pid, cmdline))
    for pid, cmdline in found:
        if str(port) in cmdline:
            return pid
    return found[0][0] if len(found) == 1 else None


def services(broker: str, pid: int | None) -> dict[str, int | str]:
    """What the steps measure beside the servers: the broker's pid, and every
    ``postgres`` process (the shared store, machine-wide: other users' queries too)."""
    out: dict[str, int | str] = {POSTGRES: "postgres"}
    if pid is not None:
        out[broker] = pid
    return out


def store_note(result: dict[str, Any]) -> str:
    """PostgreSQL's CPU at the lowest step, for the notes: per message net of its idle
    share, and the shares themselves, because other users' queries move both (a net of 0
    means the neighbours' load fell between the idle sample and the step)."""
    steps: list[dict[str, Any]] = result.get("steps", [])
    if not steps:
        return ""
    per_msg = steps[0].get("service_cpu_us_per_msg", {}).get(POSTGRES)
    share = steps[0].get("service_cpu_pct", {}).get(POSTGRES)
    idle = result.get("service_idle_cpu_pct", {}).get(POSTGRES)
    if per_msg is None:
        return ""
    return (
        f"PostgreSQL (every postgres process, machine-wide) {per_msg:g} us/msg net "
        f"({share}% of a core in the step, {idle}% idle before)"
    )


def broker_rows(
    scenario: str,
    subject: str,
    broker: str,
    result: dict[str, Any],
    baseline: BaselineKey | None,
) -> list[Row]:
    """The broker's CPU per message at the lowest step, alone and added to the servers'
    (net of idle, as the servers' figure): what a message costs the whole cluster."""
    steps: list[dict[str, Any]] = result.get("steps", [])
    first = steps[0] if steps else None
    per_msg = (first or {}).get("service_cpu_us_per_msg", {}).get(broker)
    total = None
    if first is not None and isinstance(per_msg, int | float):
        total = round(first["server_cpu_us_per_msg"] + per_msg, 1)
    at = f"at {first['rate']:g} msg/s" if first else ""
    shared = f"{broker} is the machine's own service: other users' load in it is in this figure"
    return [
        Row(
            scenario,
            subject,
            BROKER_METRIC,
            per_msg,
            "us",
            better="lower",
            baseline=(baseline[0], baseline[1], BROKER_METRIC) if baseline else None,
            note=f"{broker}, {at}, net of its idle CPU; {shared}",
        ),
        Row(
            scenario,
            subject,
            TOTAL_METRIC,
            total,
            "us",
            better="lower",
            baseline=(baseline[0], baseline[1], TOTAL_METRIC) if baseline else None,
            note="; ".join(n for n in (f"both servers + {broker}, {at}", store_note(result)) if n),
        ),
    ]


def cpu_at_rate_row(
    scenario: str,
    subject: str,
    result: dict[str, Any],
    baseline: BaselineKey | None,
    rate: float = COMPARE_RATE,
) -> Row:
    """Servers' CPU per message (summed, net of idle) at ``rate``, from its last try: CPU
    per message barely moves when a neighbour makes a step fail on latency."""
    metric = f"server_cpu_us_per_msg_at_{rate:g}"
    tries = [s for s in result.get("steps", []) if s["rate"] == rate]
    value = tries[-1]["server_cpu_us_per_msg"] if tries else None
    note = "both servers" if tries else f"no step at {rate:g} msg/s (stepping stopped below)"
    if tries and not tries[-1]["passed"]:
        note += f"; that step failed (p99 {tries[-1]['delivery']['p99_ms']} ms)"
    return Row(
        scenario,
        subject,
        metric,
        value,
        "us",
        better="lower",
        baseline=(baseline[0], baseline[1], metric) if baseline else None,
        note=note,
    )


def crossing_note(result: dict[str, Any]) -> str:
    """How many cluster items the agents' node received over the timed steps, next to
    the messages sent: evidence that the messages crossed NATS and not a shortcut."""
    steps: list[dict[str, Any]] = result.get("steps", [])
    sent = sum(int(s["sent"]) for s in steps)
    received = sum(
        float(s.get("agent_node_counters", {}).get("kefu_cluster_items_received_total", 0))
        for s in steps
    )
    dropped = sum(
        float(s.get("counters", {}).get("kefu_cluster_items_dropped_total", 0)) for s in steps
    )
    return (
        f"agents' node received {received:.0f} cluster items for {sent} messages sent; "
        f"visitors' node dropped {dropped:.0f}"
    )
