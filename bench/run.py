"""``python -m bench.run``: run the scenarios, print the table, write ``bench/results.json``.

Flags: ``--quick`` (smoke sizes), ``--only NAME`` (repeatable or comma-separated),
``--no-postgres``, ``--kefu-env KEY=VALUE`` (extra settings for every kefu node),
``--plain`` (no rich table), ``--out PATH``, ``--nice N``, ``--no-deflate``. Scenarios
run in a fixed order, baselines next to their subjects; one failing scenario is recorded
and the others still run. Scenarios not run keep their rows from the existing output file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import customer360, events, grpc_attachments, pg, search
from bench.kefu_proc import unavailable_reason
from bench.procs import BENCH_DIR, RUNS_DIR, machine_info, plan_cpus, raise_nofile
from bench.profile import FULL, QUICK
from bench.report import link_baselines, print_table, write_json
from bench.scenarios import (
    kefu_relay,
    kefu_relay_cluster,
    kefu_sockets,
    kefu_sockets_workers,
    loadgen_check,
    sagas,
    socketio_baseline,
    socketio_cluster_baseline,
    ws_stacks,
)
from bench.scenarios.common import Context, Outcome, Row

Scenario = Callable[[Context], Outcome]
# Run order: each baseline right before the kefu scenario compared with it.
SCENARIOS: dict[str, Scenario] = {
    # The relay load generator beside the bare relay and kefu: is it far from the limit?
    loadgen_check.NAME: loadgen_check.run,
    "ws_stacks": ws_stacks.run,
    "socketio_baseline": socketio_baseline.run,
    "kefu_sockets": kefu_sockets.run,
    kefu_sockets_workers.NAME: kefu_sockets_workers.run,
    "kefu_relay": kefu_relay.run,
    socketio_cluster_baseline.NAME: socketio_cluster_baseline.run,
    kefu_relay_cluster.NAME: kefu_relay_cluster.run,
    customer360.FANOUT: customer360.run_fanout,
    customer360.CACHED: customer360.run_cached,
    events.CELERY: events.run_celery,
    events.KEFU: events.run_kefu,
    events.JETSTREAM: events.run_jetstream,
    # The Celery chain baseline runs inside the scenario, before kefu.
    sagas.NAME: sagas.run,
    search.SCENARIO: search.run,
    grpc_attachments.SCENARIO: grpc_attachments.run,
}
NEEDS_KEFU = {
    loadgen_check.NAME,
    "kefu_sockets",
    kefu_sockets_workers.NAME,
    "kefu_relay",
    kefu_relay_cluster.NAME,
    customer360.FANOUT,
    customer360.CACHED,
    events.KEFU,
    events.JETSTREAM,
    sagas.NAME,
    grpc_attachments.SCENARIO,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke-run sizes (minutes)")
    parser.add_argument("--only", action="append", default=[], help=f"of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.json")
    parser.add_argument("--pg-dsn", default=pg.DEFAULT_ADMIN_DSN, help="admin DSN (any db)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite variants only")
    parser.add_argument("--kefu-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--plain", action="store_true", help="plain-text table")
    parser.add_argument(
        "--no-deflate", action="store_true", help="clients do not offer permessage-deflate"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling niceness for the bench and every process it starts (negative: "
        "ahead of neighbours on a shared machine; needs root)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    args.selected = [n for n in SCENARIOS if not names or n in names]
    bad_env = [e for e in args.kefu_env if "=" not in e]
    if bad_env:
        parser.error(f"--kefu-env wants KEY=VALUE, got {bad_env}")
    return args


def merge_previous(path: Path, payload: dict[str, Any], ran: list[str]) -> dict[str, Any]:
    """Keep what the file at ``path`` holds for scenarios this run did not run (``--only``),
    each stamped with the run it came from; this run's scenarios replace theirs."""
    stamp = {k: payload[k] for k in ("generated_at", "command", "profile")}
    for name in ran:
        if name in payload["details"]:
            payload["details"][name]["run"] = stamp
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return payload
    old_stamp = {k: old.get(k) for k in ("generated_at", "command", "profile")}
    rows = [r for r in old.get("rows", []) if r.get("scenario") not in ran]
    details = {k: v for k, v in old.get("details", {}).items() if k not in ran}
    for value in details.values():
        if isinstance(value, dict):
            value.setdefault("run", old_stamp)
    errors = {k: v for k, v in old.get("errors", {}).items() if k not in ran}
    order = {name: i for i, name in enumerate(SCENARIOS)}
    payload["rows"] = sorted(
        rows + payload["rows"], key=lambda r: order.get(r.get("scenario"), len(order))
    )
    payload["details"] = {**details, **payload["details"]}
    payload["errors"] = {**errors, **payload["errors"]}
    return payload


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()
    # Decided once, before pinning: afterwards this process sees only its own core.
    cpus = plan_cpus()
    # The orchestrator mostly waits, but it must never take the server's core.
    os.sched_setaffinity(0, cpus.loadgen)
    if args.nice:
        # Inherited by every server and load generator started from here on.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    profile = QUICK if args.quick else FULL
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = RUNS_DIR / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    postgres = not args.no_postgres and pg.reachable(args.pg_dsn)
    if not args.no_postgres and not postgres:
        log(f"PostgreSQL unreachable at {args.pg_dsn}: SQLite variants only")
    ctx = Context(
        profile=profile,
        cpus=cpus,
        run_dir=run_dir,
        pg_admin_dsn=args.pg_dsn,
        postgres=postgres,
        kefu_env=dict(e.split("=", 1) for e in args.kefu_env),
        log=log,
        deflate_wbits=0 if args.no_deflate else 15,
    )
    log(f"profile {profile.name}; scenarios {args.selected}; logs in {run_dir}")

    started = time.monotonic()
    rows: list[Row] = []
    details: dict[str, Any] = {}
    errors: dict[str, str] = {}
    kefu_problem = unavailable_reason() if NEEDS_KEFU & set(args.selected) else None
    for name in args.selected:
        if name in NEEDS_KEFU and kefu_problem:
            errors[name] = kefu_problem
            log(f"{name}: skipped: {kefu_problem}")
            continue
        t0 = time.monotonic()
        try:
            outcome = SCENARIOS[name](ctx)
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
            details[name] = {"traceback": traceback.format_exc()}
            log(f"{name}: FAILED: {errors[name]}")
            continue
        rows.extend(outcome.rows)
        details[name] = {**outcome.details, "duration_s": round(time.monotonic() - t0, 1)}
        log(f"{name}: done in {time.monotonic() - t0:.0f}s")

    link_baselines(rows)
    print_table(rows, plain=args.plain)
    for name, error in errors.items():
        print(f"{name}: ERROR: {error.splitlines()[0][:300]}")
    payload: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *(argv or sys.argv[1:])]),
        "profile": profile.name,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine_info(cpus),
        "postgres": postgres,
        "nice": args.nice,
        "deflate_offered": not args.no_deflate,
        "run_dir": str(run_dir),
        "rows": [r.as_dict() for r in rows],
        "errors": errors,
        "details": details,
    }
    write_json(args.out, merge_previous(args.out, payload, args.selected))
    log(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
