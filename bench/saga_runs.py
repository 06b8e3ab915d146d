"""What both subjects of the ``sagas`` scenario share: the department systems' process,
the kill schedule and the drain, and turning one run into a result.

A run: the planned sagas are submitted as fast as the subject takes them; a monitor
polls how many reached a final status and SIGKILLs the subject's process group when a
third and two thirds of them have (``kills`` times in all), restarting it at once; after
the last submission it waits until every saga is final, or until nothing has changed for
``stall_s`` (a subject that lost sagas never finishes them), bounded by ``limit_s``.
Then the department systems' own records are read and judged (``bench.saga_plan.judge``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import free_port, start_server, wait_http_ready
from bench.saga_plan import judge, percentile
from bench.saga_sims import RECORDS_PATH
from bench.scenarios.common import Context

POLL_S = 0.2


def limits(count: int) -> tuple[float, float]:
    """(stall_s, limit_s): nothing final for longer than two Redis visibility timeouts
    (or a kefu lease and a retry budget) means lost work; the hard limit scales with N
    (0.4 s a saga: 2.5 sagas/s, below the slowest subject on a loaded 2-core machine)."""
    return 75.0, 300.0 + count * 0.4


@dataclass
class Timeline:
    """When things happened in a run (monotonic seconds from its start)."""

    kills: list[dict[str, Any]] = field(default_factory=list)
    submitted_s: float | None = None
    drained_s: float | None = None
    drain_reason: str = ""


@contextlib.contextmanager
def department_systems(
    ctx: Context, label: str, customers: int, failure_rate: float
) -> Iterator[dict[str, str]]:
    """The three simulators in a process of their own (never killed), on the
    load-generator cores; yields their base URLs."""
    ports = {name: free_port() for name in ("orders", "crm", "callcenter")}
    # The order system's SQLite file on tmpfs when there is one: its fsyncs are not what
    # the scenario measures (every subject waits on the same department systems).
    shm = Path("/dev/shm")
    # Named after the run directory too: two bench runs at once must not share the file.
    orders_db = (shm if shm.is_dir() else ctx.run_dir) / f"kefu-bench-{ctx.run_dir.name}-{label}.db"
    config = {
        "customers": customers,
        "orders_db": str(orders_db),
        "ports": ports,
        "write_failure_rate": failure_rate,
    }
    argv = [sys.executable, "-m", "bench.saga_sims", json.dumps(config)]
    server = start_server(label, argv, cpus=ctx.cpus.loadgen, log_dir=ctx.run_dir)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for url in urls.values():
            wait_http_ready(server, url + RECORDS_PATH, timeout=180)
        yield urls
    finally:
        server.stop()
        for path in orders_db.parent.glob(orders_db.name + "*"):
            path.unlink(missing_ok=True)


def records(urls: dict[str, str]) -> dict[str, dict[str, str]]:
    """Every system's own records by idempotency key (``applied``/``undone``)."""
    out = {}
    for name, url in urls.items():
        with urllib.request.urlopen(url + RECORDS_PATH, timeout=60) as answer:
            out[name] = json.loads(answer.read())
    return out


def monitor(
    total: int,
    kills: int,
    progress: Callable[[], int],
    kill_and_restart: Callable[[], dict[str, Any]],
    submitting: Callable[[], bool],
    stall_s: float,
    limit_s: float,
    started: float,
) -> Timeline:
    """Kill at each ``i/(kills+1)`` of ``total`` final sagas, then drain (see module doc)."""
    timeline = Timeline()
    thresholds = [total * (i + 1) // (kills + 1) for i in range(kills)]
    last, last_change = -1, time.monotonic()
    while True:
        now = time.monotonic()
        done = progress()
        if done != last:
            last, last_change = done, now
        if thresholds and done >= thresholds[0]:
            thresholds.pop(0)
            info = kill_and_restart()
            info.update(at_s=round(now - started, 2), final_sagas=done)
            timeline.kills.append(info)
            last_change = time.monotonic()
            continue
        if timeline.submitted_s is None and not submitting():
            timeline.submitted_s = round(now - started, 2)
        if done >= total and not thresholds:
            timeline.drained_s, timeline.drain_reason = round(now - started, 2), "all final"
            return timeline
        if not submitting() and now - last_change > stall_s:
            timeline.drained_s = round(now - started, 2)
            timeline.drain_reason = f"no saga became final for {stall_s:g}s"
            return timeline
        if now - started > limit_s:
            timeline.drained_s, timeline.drain_reason = round(now - started, 2), "time limit"
            return timeline
        time.sleep(POLL_S)


def result(
    subject: str,
    outcomes: dict[str, str | None],
    latencies_s: list[float],
    first_submit: float,
    last_final: float | None,
    found: dict[str, dict[str, str]],
    timeline: Timeline,
    extra: dict[str, Any],
) -> dict[str, Any]:
    judged = judge(outcomes, found)
    final = judged["sagas"] - judged["stuck"]
    span = (last_final - first_submit) if last_final else None
    return {
        "subject": subject,
        **judged,
        "final_sagas": final,
        "sagas_per_s": round(final / span, 1) if span else None,
        "span_s": round(span, 2) if span else None,
        "latency_ms": {
            "p50": _ms(percentile(latencies_s, 0.50)),
            "p99": _ms(percentile(latencies_s, 0.99)),
            "max": _ms(max(latencies_s) if latencies_s else None),
        },
        "kills": timeline.kills,
        "submitted_s": timeline.submitted_s,
        "drained_s": timeline.drained_s,
        "drain_reason": timeline.drain_reason,
        **extra,
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)
