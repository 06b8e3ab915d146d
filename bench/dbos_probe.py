"""DBOS Transact measured as kefu's saga engine (issue 14). ONLY runs where ``dbos`` is installed.

NOT a kefu dependency and never imported by kefu or the rest of the bench. It runs in a
throw-away venv::

    python3 -m venv /tmp/dbos-venv && /tmp/dbos-venv/bin/pip install dbos
    /tmp/dbos-venv/bin/python bench/dbos_probe.py all --out bench/.runs/dbos-probe.json

What it measures, on SQLite and on PostgreSQL (DBOS supports both as system database):

- ``throughput``: N refund sagas of 4 steps, each a DBOS workflow started by a pool of
  threads (as request handlers would), 5% of forward steps failing for good (the
  workflow then compensates the steps done, in reverse) and 1% of compensations
  failing once (DBOS step retries). Steps 1-3 apply a row keyed by the saga's
  idempotency key in a "department" database of their own (as the simulators
  remember applied keys); step 4 is kefu's own write (a ticket comment plus an outbox
  row) done in a DBOS *datasource transaction* on the application database, which
  records the step's output in the same transaction. Afterwards every saga's
  department rows are checked against the workflow's outcome (``half_applied``).
- ``recovery``: a node (executor id ``node-a``) starts sagas held inside step 2, is
  SIGKILLed, and then (1) the same executor id restarts, (2) a second node with another
  executor id runs for a while, (3) that node explicitly recovers ``node-a``'s
  workflows. For each: how many sagas finished, and whether any step was applied twice.
- ``weight``: the distributions ``dbos`` pulls in and their size on disk.

``all`` runs the three and writes one JSON report (docs/sagas.md "Choosing the engine"
quotes it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# The repository root, so that ``bench.saga_plan`` / ``bench.saga_http`` (standard library
# and httpx only) import from this venv.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEPS = ("refund_order", "take_back_points", "log_call_note", "comment_ticket")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DBS = ("kefu_bench_dbos_sys", "kefu_bench_dbos_app", "kefu_bench_dbos_dept")
HOLD_FILE = "hold"
RECOVERY_SAGAS = 20


class StepFailed(Exception):
    """A department refused the step for good: the saga compensates."""


# --------------------------------------------------------------------------- stores


def urls(kind: str, work: Path) -> dict[str, str]:
    if kind == "sqlite":
        return {n: f"sqlite:///{work / (n + '.sqlite')}" for n in ("sys", "app", "dept")}
    base = PG_ADMIN.rsplit("/", 1)[0]
    return dict(zip(("sys", "app", "dept"), (f"{base}/{db}" for db in PG_DBS), strict=True))


def fresh_stores(kind: str, work: Path) -> dict[str, str]:
    """Empty system, application and department databases; the app and department
    tables created."""
    work.mkdir(parents=True, exist_ok=True)
    if kind == "postgresql":
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for db in PG_DBS:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
        admin.dispose()
    else:
        for path in work.glob("*.sqlite*"):
            path.unlink()
    found = urls(kind, work)
    dept = sa.create_engine(found["dept"])
    with dept.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE applied (key VARCHAR(200) PRIMARY KEY, saga VARCHAR(100), "
                "step VARCHAR(40), phase VARCHAR(10), times INTEGER)"
            )
        )
        conn.execute(sa.text("CREATE TABLE failed_once (key VARCHAR(200) PRIMARY KEY)"))
    dept.dispose()
    app = sa.create_engine(found["app"])
    with app.begin() as conn:
        conn.execute(sa.text("CREATE TABLE comments (saga VARCHAR(100) PRIMARY KEY, body TEXT)"))
        conn.execute(sa.text("CREATE TABLE outbox (saga VARCHAR(100), type VARCHAR(40))"))
    app.dispose()
    return found


# --------------------------------------------------------------------------- the node


def launch(store_urls: dict[str, str], executor: str, work: Path) -> dict[str, Any]:
    """Configure DBOS in this process, register the saga workflow, launch; returns the
    callables the modes use."""
    from dbos import DBOS, DBOSConfig, SQLAlchemyDatasource

    config: DBOSConfig = {
        "name": "kefu-saga-probe",
        "system_database_url": store_urls["sys"],
        "executor_id": executor,
        "log_level": "WARNING",
        "application_version": "probe-1",
    }
    DBOS(config=config)
    app = SQLAlchemyDatasource.create(store_urls["app"])
    dept = sa.create_engine(store_urls["dept"], pool_size=32, max_overflow=8)
    if store_urls["dept"].startswith("sqlite"):

        @sa.event.listens_for(dept, "connect")
        def _pragmas(dbapi: Any, _rec: Any) -> None:
            cur = dbapi.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    upsert = sa.text(
        "INSERT INTO applied (key, saga, step, phase, times) VALUES (:k, :s, :st, :p, 1) "
        "ON CONFLICT (key) DO UPDATE SET times = applied.times + 1"
    )

    def apply(saga: str, step: str, phase: str) -> None:
        # The department honours the idempotency key: a second call with the same key
        # is answered from memory; `times` counts calls so a double apply is visible.
        with dept.begin() as conn:
            conn.execute(upsert, {"k": f"{saga}:{step}:{phase}", "s": saga, "st": step, "p": phase})

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0.01, backoff_rate=2.0,
               should_retry=lambda e: not isinstance(e, StepFailed))  # fmt: skip
    def forward(saga: str, step: str, fail: bool) -> str:
        if fail:
            raise StepFailed(f"{step} refused")
        apply(saga, step, "do")
        hold = work / HOLD_FILE
        if step == STEPS[1] and hold.exists() and saga.startswith("held-"):
            # The department has answered, DBOS has not recorded it: the kill lands here.
            (work / f"reached-{saga}").touch()
            while hold.exists():
                time.sleep(0.05)
        return "ok"

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0.01, backoff_rate=2.0)
    def compensate(saga: str, step: str, fail_once: bool) -> str:
        if fail_once:
            with dept.begin() as conn:
                first = conn.execute(
                    sa.text("INSERT INTO failed_once (key) VALUES (:k) ON CONFLICT DO NOTHING"),
                    {"k": f"{saga}:{step}"},
                ).rowcount
            if first:
                raise RuntimeError(f"compensation of {step} failed once")
        apply(saga, step, "undo")
        return "ok"

    sqlite = store_urls["app"].startswith("sqlite")

    @app.transaction(isolation_level="SERIALIZABLE" if sqlite else "READ COMMITTED")
    def comment_ticket(saga: str, fail: bool) -> str:
        # kefu's own write: comment + outbox row, DBOS records the step in this transaction.
        if fail:
            raise StepFailed("comment refused")
        conn = app.sql_session()
        conn.execute(
            sa.text("INSERT INTO comments (saga, body) VALUES (:s, 'refunded')"), {"s": saga}
        )
        conn.execute(
            sa.text("INSERT INTO outbox (saga, type) VALUES (:s, 'ticket.comment')"), {"s": saga}
        )
        return "ok"

    @DBOS.workflow(name="refund")
    def refund(saga: str, fail_step: int, fail_comp: bool) -> str:
        done: list[str] = []
        try:
            for i, step in enumerate(STEPS):
                if step == "comment_ticket":
                    comment_ticket(saga, i == fail_step)
                else:
                    forward(saga, step, i == fail_step)
                done.append(step)
        except StepFailed:
            for step in reversed(done):
                if step == "comment_ticket":
                    continue  # not reached: it is the last step
                compensate(saga, step, fail_comp)
            return "compensated"
        return "completed"

    from bench import saga_http

    sims: dict[str, str] = json.loads(os.environ.get("DBOS_PROBE_SIMS", "{}"))

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0.2, backoff_rate=2.0,
               should_retry=lambda e: isinstance(e, saga_http.Transient))  # fmt: skip
    def http_do(saga: str, step: str, data: dict[str, Any]) -> str:
        saga_http.do_step(sims, step, saga, data)
        return "ok"

    @DBOS.step(retries_allowed=True, max_attempts=5, interval_seconds=0.2, backoff_rate=2.0,
               should_retry=lambda e: isinstance(e, saga_http.Transient))  # fmt: skip
    def http_undo(saga: str, step: str, data: dict[str, Any]) -> str:
        saga_http.undo_step(sims, step, saga, data)
        return "ok"

    @DBOS.workflow(name="refund_http")
    def refund_http(saga: str, data: dict[str, Any]) -> str:
        """The bench's refund saga against the simulators (bench.saga_plan, bench.saga_http)."""
        done: list[str] = []
        try:
            for step in saga_http.DEPARTMENT_STEPS:
                http_do(saga, step, data)
                done.append(step)
            comment_ticket(saga, False)
        except saga_http.Refused:
            for step in reversed(done):
                http_undo(saga, step, data)
            return "compensated"
        return "completed"

    DBOS.launch()
    return {"DBOS": DBOS, "refund": refund, "refund_http": refund_http, "dept": dept, "app": app}


def plan(n: int, seed: int = 14) -> list[tuple[int, bool]]:
    """Per saga: which step fails (-1: none; each step fails with 5%) and whether its
    compensations fail once (1%)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        fail_step = next((i for i in range(len(STEPS)) if rnd.random() < 0.05), -1)
        out.append((fail_step, rnd.random() < 0.01))
    return out


def audit(store_urls: dict[str, str], outcomes: dict[str, str]) -> dict[str, Any]:
    """Compare each saga's department records with its outcome: completed -> every
    step applied and none undone; compensated -> every applied step undone."""
    dept = sa.create_engine(store_urls["dept"])
    with dept.connect() as conn:
        rows = conn.execute(sa.text("SELECT saga, step, phase, times FROM applied")).all()
    dept.dispose()
    by: dict[str, dict[tuple[str, str], int]] = {}
    for saga, step, phase, times in rows:
        by.setdefault(saga, {})[(step, phase)] = times
    half, double = [], 0
    for saga, outcome in outcomes.items():
        got = by.get(saga, {})
        double += sum(1 for t in got.values() if t > 1)
        done = {s for (s, p) in got if p == "do"}
        undone = {s for (s, p) in got if p == "undo"}
        if outcome == "completed":
            ok = done == set(STEPS[:3]) and not undone
        elif outcome == "compensated":
            ok = done == undone
        else:
            ok = False
        if not ok:
            half.append(saga)
    return {"half_applied": len(half), "examples": half[:5], "keys_called_twice": double}


# --------------------------------------------------------------------------- modes


def throughput(kind: str, work: Path, n: int, threads: int) -> dict[str, Any]:
    store_urls = fresh_stores(kind, work)
    node = launch(store_urls, "bench", work)
    refund, dbos = node["refund"], node["DBOS"]
    from dbos import SetWorkflowID

    sagas = plan(n)
    latencies: list[float] = []
    outcomes: dict[str, str] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        fail_step, fail_comp = sagas[i]
        saga = f"saga-{i}"
        t0 = time.perf_counter()
        with SetWorkflowID(saga):
            result = refund(saga, fail_step, fail_comp)
        with lock:
            latencies.append(time.perf_counter() - t0)
            outcomes[saga] = result

    warm = min(50, n)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(warm)))
        t0 = time.perf_counter()
        list(pool.map(one, range(warm, n)))
        elapsed = time.perf_counter() - t0
    lat = sorted(latencies[warm:])
    checked = audit(store_urls, outcomes)
    dbos.destroy()
    node["dept"].dispose()
    return {
        "store": kind,
        "sagas": n - warm,
        "threads": threads,
        "sagas_per_s": round((n - warm) / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
        "outcomes": {k: list(outcomes.values()).count(k) for k in set(outcomes.values())},
        **checked,
    }


KEFU_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"


def http_throughput(kind: str, work: Path, n: int, threads: int) -> dict[str, Any]:
    """The bench's refund saga (``bench.saga_plan``: 5% of department steps refused, 1% of
    writes 503 once) over HTTP against ``bench.saga_sims``, started in kefu's venv."""
    import urllib.request

    from bench.saga_plan import WRITE_FAILURE_RATE, customers_for, judge
    from bench.saga_plan import plan as plan_sagas

    orders_path, records_path = "/_bench/orders", "/_bench/records"  # bench.saga_sims's

    store_urls = fresh_stores(kind, work)
    ports = {}
    for name in ("orders", "crm", "callcenter"):
        with __import__("socket").socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports[name] = sock.getsockname()[1]
    config = {"customers": customers_for(n), "orders_db": str(work / "orders.db"),
              "ports": ports, "write_failure_rate": WRITE_FAILURE_RATE}  # fmt: skip
    sims = subprocess.Popen([str(KEFU_PYTHON), "-m", "bench.saga_sims", json.dumps(config)],
                            stdout=subprocess.PIPE, cwd=str(KEFU_PYTHON.parents[2]))  # fmt: skip
    try:
        urls = json.loads(sims.stdout.readline())  # type: ignore[union-attr]
        os.environ["DBOS_PROBE_SIMS"] = json.dumps(urls)
        with urllib.request.urlopen(urls["orders"] + orders_path) as answer:
            orders = [(o, c, Decimal(t), st) for o, c, t, st in json.loads(answer.read())]
        sagas = plan_sagas(orders, n)
        node = launch(store_urls, "bench", work)
        from dbos import SetWorkflowID

        latencies: list[float] = []
        outcomes: dict[str, str | None] = {}
        lock = threading.Lock()

        def one(i: int) -> None:
            saga_id = f"dbos-{i}"
            t0 = time.perf_counter()
            with SetWorkflowID(saga_id):
                out = node["refund_http"](saga_id, sagas[i].input())
            with lock:
                latencies.append(time.perf_counter() - t0)
                outcomes[saga_id] = out

        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(n)))
        elapsed = time.perf_counter() - t0
        found = {}
        for name, url in urls.items():
            with urllib.request.urlopen(url + records_path) as answer:
                found[name] = json.loads(answer.read())
        node["DBOS"].destroy()
    finally:
        sims.terminate()
        sims.wait(30)
    lat = sorted(latencies)
    judged = judge(outcomes, found)
    judged.pop("half_applied_examples")
    return {
        "store": kind,
        "steps": "HTTP to bench.saga_sims + datasource transaction",
        "sagas": n,
        "threads": threads,
        "sagas_per_s": round(n / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
        **judged,
    }


def node_main(kind: str, work: Path, executor: str, start: int, recover: str | None) -> None:
    """A node process for the recovery experiment (``node`` mode)."""
    store_urls = urls(kind, work)
    node = launch(store_urls, executor, work)
    dbos = node["DBOS"]
    from dbos import SetWorkflowID

    for i in range(start):
        with SetWorkflowID(f"held-{i}"):
            dbos.start_workflow(node["refund"], f"held-{i}", -1, False)
    if recover:
        dbos._recover_pending_workflows([recover])
    print("ready", flush=True)
    while True:
        time.sleep(1)


def weight() -> dict[str, Any]:
    """``dbos`` and every distribution it requires (transitively, with the extras its
    requirements ask for, e.g. ``psycopg[binary]``), with the size of their files."""
    seen: dict[str, int] = {}
    todo: list[tuple[str, frozenset[str]]] = [("dbos", frozenset())]
    while todo:
        name, extras = todo.pop()
        dist = metadata.distribution(name)
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key not in seen:
            seen[key] = sum((f.size or 0) for f in dist.files or [])
        for req in dist.requires or []:
            spec, _, marker = req.partition(";")
            wanted = [e for e in extras if f'extra == "{e}"' in marker]
            if "extra ==" in marker and not wanted:
                continue
            if "python_version" in marker and '< "3.' in marker:
                continue
            base = spec.strip()
            asked: frozenset[str] = frozenset()
            if "[" in base:
                base, rest = base.split("[", 1)
                asked = frozenset(e.strip() for e in rest.split("]")[0].split(","))
            for sep in "<>=!~ (":
                base = base.split(sep)[0]
            todo.append((base.strip(), asked))
    return {
        "version": metadata.version("dbos"),
        "distributions": {k: round(v / 1e6, 2) for k, v in sorted(seen.items())},
        "total_mb": round(sum(seen.values()) / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["all", "throughput", "http", "recovery", "weight", "node"])
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--sagas", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--executor", default="node-a")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--recover", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="dbos-probe-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.mode == "node":
        node_main(args.store, work, args.executor, args.start, args.recover or None)
        return
    result: dict[str, Any] = {}
    stores = ["sqlite", "postgresql"] if args.mode == "all" else [args.store]
    if args.mode in ("all", "weight"):
        result["weight"] = weight()
    for kind in stores:
        if args.mode in ("all", "throughput"):
            result[f"throughput_{kind}"] = run_child(args, "throughput", kind, work)
        if args.mode in ("all", "http"):
            result[f"http_{kind}"] = run_child(args, "http", kind, work)
        if args.mode in ("all", "recovery"):
            from bench.dbos_recovery import recovery

            result[f"recovery_{kind}"] = recovery(kind, work / f"rec-{kind}")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


def run_child(args: argparse.Namespace, mode: str, kind: str, work: Path) -> dict[str, Any]:
    # DBOS is one global instance per process; each measurement gets a process of its own.
    if os.environ.get("DBOS_PROBE_CHILD"):
        measure = http_throughput if mode == "http" else throughput
        return measure(kind, work / f"{mode}-{kind}", args.sagas, args.threads)
    argv = [sys.executable, __file__, mode, "--store", kind, "--work", str(work)]
    argv += ["--sagas", str(args.sagas), "--threads", str(args.threads)]
    done = subprocess.run(argv, capture_output=True, env={**os.environ, "DBOS_PROBE_CHILD": "1"},
                          timeout=1800, check=False)  # fmt: skip
    if done.returncode:
        return {"error": done.stderr.decode(errors="replace")[-2000:]}
    return dict(json.loads(done.stdout)[f"{mode}_{kind}"])


if __name__ == "__main__":
    main()
