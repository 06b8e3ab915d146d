"""One kefu relay at one fixed rate, looked at closely: ``python -m bench.relay_probe``.

Where ``kefu_relay`` steps the rate up to find a ceiling, this holds one rate for a few
steps and shows where the server's time goes: CPU per thread of the kefu process (the
event loop, the SQLite writer, the checkpointer; from ``/proc/<pid>/task``) over the
middle of the run, and the store's commit-time and batch-size histograms from
``/metrics``. The tool behind the store changes in bench/README.md ("Chat relay").

    python -m bench.relay_probe 2000                 # SQLite, 2,000 msg/s
    python -m bench.relay_probe 1000 --postgres      # PostgreSQL (a fresh database)
    python -m bench.relay_probe 1500 --kefu-env KEFU_STORE_WRITE_LANES=1

Same processes and pinning as the bench (server on the first core, load generator on
the rest), same sockets and frames as ``kefu_relay`` at its quick size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.kefu_proc import add_agents, node_env, start_kefu
from bench.loadgen import run_job
from bench.pg import fresh_database
from bench.procs import plan_cpus, running
from bench.profile import QUICK, Profile
from bench.scenarios.common import Context

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
CONVERSATIONS = 200
AGENTS = 4
METRICS = ("kefu_store_commit_seconds_", "kefu_store_batch_messages_")
HZ = os.sysconf("SC_CLK_TCK")


def thread_times(pid: int) -> dict[str, tuple[str, int, int]]:
    """tid -> (name, user ticks, system ticks) of every thread of ``pid``."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue  # the thread ended
        fields = stat[stat.rindex(")") + 2 :].split()
        found[tid] = (name, int(fields[11]), int(fields[12]))
    return found


def sample_threads(pid: int, after_s: float, for_s: float, out: list[str]) -> None:
    time.sleep(after_s)
    before, started = thread_times(pid), time.monotonic()
    time.sleep(for_s)
    after, elapsed = thread_times(pid), time.monotonic() - started
    for tid, (name, user, system) in sorted(after.items()):
        if tid not in before:
            continue
        user_pct = (user - before[tid][1]) / HZ / elapsed * 100
        sys_pct = (system - before[tid][2]) / HZ / elapsed * 100
        if user_pct + sys_pct >= 0.5:
            # Python does not name OS threads; the event loop is the main thread.
            label = "event loop (main)" if tid == str(pid) else f"{name} thread {tid}"
            out.append(f"{label:<26} user {user_pct:5.1f}%  sys {sys_pct:5.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rate", type=float, help="messages per second")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    parser.add_argument("--pg-dsn", default=DEFAULT_PG)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--step-s", type=float, default=10.0)
    parser.add_argument("--kefu-env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="kefu-relay-probe-"))
    extra = dict(item.split("=", 1) for item in args.kefu_env)
    ctx = Context(QUICK, plan_cpus(), run_dir, args.pg_dsn, args.postgres, extra, print)
    store_url = fresh_database(args.pg_dsn) if args.postgres else None
    env = node_env(ctx, "probe", store_url=store_url, capacity=CONVERSATIONS)
    agents = add_agents(env, AGENTS, CONVERSATIONS, run_dir)
    server, base = start_kefu(ctx, "probe", env)
    lines: list[str] = []
    # Sockets open in ~5 s; sample the middle of the steps.
    sampler = threading.Thread(
        target=sample_threads,
        args=(server.pid, 8.0, max(1.0, args.steps * args.step_s - 6.0), lines),
        daemon=True,
    )
    with running(server):
        sampler.start()
        plan = Profile(
            "probe", 0, 0, 0, CONVERSATIONS, AGENTS, step_s=args.step_s, grace_s=2.0, attempts=1
        ).plan([args.rate] * args.steps)
        job = {
            "job": "relay",
            "compress": 15,
            "protocol": "kefu",
            "http_base": base,
            "server_pid": server.pid,
            "conversations": CONVERSATIONS,
            "agents": agents,
            "open_timeout_s": 60,
            "plan": plan,
        }
        result = run_job(job, 120 + args.steps * (args.step_s + 8), ctx.cpus)
        sampler.join()
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    print(f"\nkefu relay at {args.rate:g} msg/s on {'PostgreSQL' if args.postgres else 'SQLite'}")
    for step in result["steps"]:
        delivery = step.get("delivery") or {}
        print(
            f"step: p99 {delivery.get('p99_ms')} ms, lost {delivery.get('lost')}, "
            f"server cpu {step.get('server_cpu_pct')}% "
            f"({step.get('server_cpu_us_per_msg')} us/msg), "
            f"neighbours {step.get('other_cpu_pct_server_cores')}% of the server core, "
            f"passed {step.get('passed')}"
        )
    print("\n".join(lines))
    for line in metrics.splitlines():
        if line.startswith(METRICS) and "_created" not in line:
            print(line)


if __name__ == "__main__":
    main()
