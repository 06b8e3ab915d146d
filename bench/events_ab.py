"""Events through kefu, one tree against another in the same minutes: ``python -m bench.events_ab``.

``events_kefu`` measures the tree it runs in. To see whether a change (or a whole issue)
made events slower, the same job (``bench.events``'s ``kefu`` job: a node in-process,
``bus: memory://``, N complaint events appended until N tickets are committed) runs on
each tree in turn, alternating, so a neighbour's burst lands on both arms alike:

    git archive ec0d4ab src | tar -x -C /tmp/before
    python -m bench.events_ab --tree before=/tmp/before/src --tree now=src --rounds 3

Each tree is imported through ``PYTHONPATH`` (ahead of the installed kefu); the job's code
is this checkout's. The table shows, per store and tree, the CPU per event of each round
(the steadiest figure on a shared machine) and events/s; the JSON (``--out``) keeps
every run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pg import DEFAULT_ADMIN_DSN, fresh_database, reachable
from bench.procs import plan_cpus, run_json_job

MODULE = "bench.events"
PG_DB = "kefu_bench_events_ab"
BUDGET_S = 600.0


def run_once(
    tree: Path, store_kind: str, events: int, batch: int, work: Path, admin_dsn: str, label: str
) -> dict[str, Any]:
    """One ``kefu`` job of ``bench.events`` on ``tree``, on a fresh store, pinned to the
    server core."""
    data_dir = work / label
    data_dir.mkdir(parents=True)
    if store_kind == "postgresql":
        store = fresh_database(admin_dsn, PG_DB)
    else:
        store = f"sqlite:///{data_dir / 'kefu.db'}"
    job = {
        "job": "kefu",
        "store": store,
        "bus": "memory://",
        "batch": batch,
        "data_dir": str(data_dir / "data"),
        "events": events,
        "limit_s": BUDGET_S / 2,
        "latency_samples": 1_000,
    }
    with (work / f"{label}.log").open("wb") as log:
        result = run_json_job(
            [sys.executable, "-m", MODULE, "job"],
            job,
            plan_cpus().server,
            BUDGET_S,
            label,
            stderr=log,
            env={"PYTHONPATH": str(tree.resolve()), "PYTHONUNBUFFERED": "1"},
            hint=f" (see {work / f'{label}.log'})",
        )
    if not result.get("complete"):
        raise RuntimeError(f"{label}: {result.get('tickets')} of {events} tickets")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events_ab", description=__doc__)
    parser.add_argument(
        "--tree", action="append", required=True, metavar="NAME=SRC", help="a tree's src/"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--pg-dsn", default=DEFAULT_ADMIN_DSN)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    trees: dict[str, Path] = {}
    for spec in args.tree:
        name, sep, path = spec.partition("=")
        if not sep or not (Path(path) / "kefu" / "__init__.py").is_file():
            parser.error(f"--tree {spec!r}: want NAME=PATH with PATH/kefu/__init__.py")
        trees[name] = Path(path)
    stores = ["sqlite"]
    if not args.no_postgres:
        if not reachable(args.pg_dsn):
            parser.error(f"PostgreSQL at {args.pg_dsn} does not answer (or pass --no-postgres)")
        stores.append("postgresql")

    work = Path(tempfile.mkdtemp(prefix="events_ab-"))
    runs: list[dict[str, Any]] = []
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for round_no in range(args.rounds):
        for store in stores:
            # Alternate which tree goes first, so neither always follows the other.
            order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
            for name in order:
                label = f"r{round_no}-{store}-{name}"
                result = run_once(
                    trees[name], store, args.events, args.batch, work, args.pg_dsn, label
                )
                runs.append({"tree": name, "store": store, "round": round_no, **result})
                print(
                    f"{label}: {result['cpu_us_per_event']} us/event,"
                    f" {result['events_per_s']:,.0f} events/s",
                    flush=True,
                )
    print(f"\nevents A/B, {args.events:,} events per run, batch {args.batch}, from {started}")
    print(
        f"{'store':<11} {'tree':<12} {'CPU us/event per round':<32} {'median':>7} {'events/s':>9}"
    )
    for store in stores:
        for name in trees:
            mine = [r for r in runs if r["store"] == store and r["tree"] == name]
            cpu = [r["cpu_us_per_event"] for r in mine]
            rate = statistics.median(r["events_per_s"] for r in mine)
            shown = ", ".join(f"{c:.1f}" for c in cpu)
            print(
                f"{store:<11} {name:<12} {shown:<32} {statistics.median(cpu):>7.1f} {rate:>9,.0f}"
            )
    out = args.out or work / "events_ab.json"
    out.write_text(
        json.dumps(
            {"started": started, "trees": {k: str(v) for k, v in trees.items()}, "runs": runs},
            indent=1,
            default=str,
        )
    )
    print(f"runs in {out}; logs in {work}")


if __name__ == "__main__":
    main()
