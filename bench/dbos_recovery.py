"""The recovery experiment of ``bench/dbos_probe.py`` (runs only where ``dbos`` is installed).

Node processes are ``dbos_probe.py node`` (one DBOS instance each, an executor id each):
node-a starts sagas held inside step 2 after the department applied it, is SIGKILLed, and
then (1) node-a restarts, (2) node-b (another executor id) runs alone for 20 s, (3) node-b
is told to recover node-a's workflows (what DBOS Conductor automates). Each reports how
long until every saga was ``SUCCESS`` (None: not within the wait) and the workflow
statuses; the audit counts department keys called twice (re-run steps, applied once).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.dbos_probe import HOLD_FILE, RECOVERY_SAGAS, audit, fresh_stores

PROBE = str(Path(__file__).resolve().with_name("dbos_probe.py"))


def statuses(store_urls: dict[str, str]) -> dict[str, int]:
    eng = sa.create_engine(store_urls["sys"])
    table = "workflow_status" if store_urls["sys"].startswith("sqlite") else "dbos.workflow_status"
    with eng.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT status, count(*) FROM {table} GROUP BY status")).all()
    eng.dispose()
    return {s: c for s, c in rows}


def wait_for(cond: Any, limit: float) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if cond():
            return round(time.monotonic() - t0, 2)
        time.sleep(0.1)
    return None


def spawn(kind: str, work: Path, executor: str, start: int = 0, recover: str = "") -> Any:
    argv = [sys.executable, PROBE, "node", "--store", kind, "--work", str(work)]
    argv += ["--executor", executor, "--start", str(start), "--recover", recover]
    log = (work / f"{executor}.log").open("ab")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, start_new_session=True)


def ready(proc: Any) -> None:
    line = proc.stdout.readline()
    if b"ready" not in line:
        raise RuntimeError(f"node did not start: {line!r}")


def kill(proc: Any) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def recovery(kind: str, work: Path) -> dict[str, Any]:
    store_urls = fresh_stores(kind, work)
    n = RECOVERY_SAGAS
    done = lambda: statuses(store_urls).get("SUCCESS", 0)  # noqa: E731
    reached = lambda: len(list(work.glob("reached-held-*")))  # noqa: E731
    out: dict[str, Any] = {"store": kind, "sagas": n}
    # 1. node-a holds n sagas in step 2, is killed; node-a restarts with the same id.
    (work / HOLD_FILE).touch()
    a = spawn(kind, work, "node-a", start=n)
    ready(a)
    wait_for(lambda: reached() == n, 60)
    kill(a)
    (work / HOLD_FILE).unlink()
    t0 = time.monotonic()
    a = spawn(kind, work, "node-a")
    ready(a)
    out["same_executor_restart"] = {
        "finished_after_s": wait_for(lambda: done() == n, 60),
        "statuses": statuses(store_urls),
        "restart_total_s": round(time.monotonic() - t0, 2),
    }
    kill(a)
    # 2. again with fresh stores, but another node (node-b) is what comes up.
    store_urls = fresh_stores(kind, work)
    for p in work.glob("reached-*"):
        p.unlink()
    (work / HOLD_FILE).touch()
    a = spawn(kind, work, "node-a", start=n)
    ready(a)
    wait_for(lambda: reached() == n, 60)
    kill(a)
    (work / HOLD_FILE).unlink()
    b = spawn(kind, work, "node-b")
    ready(b)
    waited = 20.0
    out["other_executor_alone"] = {
        "finished_after_s": wait_for(lambda: done() == n, waited),
        "waited_s": waited,
        "statuses": statuses(store_urls),
    }
    kill(b)
    # 3. node-b told explicitly to recover node-a's workflows (what Conductor automates).
    b = spawn(kind, work, "node-b", recover="node-a")
    ready(b)
    out["other_executor_recover_call"] = {
        "finished_after_s": wait_for(lambda: done() == n, 60),
        "statuses": statuses(store_urls),
    }
    kill(b)
    outcomes = {f"held-{i}": "completed" for i in range(n)}
    out["audit"] = audit(store_urls, outcomes)
    return out
