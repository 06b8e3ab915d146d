"""Scenario ``sagas`` (issue 14): refund sagas through crashes, kefu beside a Celery chain.

N refund sagas (10,000 full, 500 quick; ``BENCH_SAGAS`` overrides, e.g. for the smoke
test) against the demo's department systems (``bench.saga_sims``: orders API, CRM
points, call-center SOAP notes, all honouring idempotency keys), 5% of each department
step refused for good (the saga must compensate), 1% of all writes answered 503 once
(retried: this is how 1% of compensations fail once), the subject SIGKILLed twice
mid-run (at a third and two thirds of the sagas final) and restarted at once
(``BENCH_SAGA_KILLS`` overrides). Plan and judging: ``bench.saga_plan``; kill schedule
and drain: ``bench.saga_runs``.

Subjects, each on fresh department systems:

- ``celery-chain-redis`` (baseline, ``bench.celery_sagas``): chain of four tasks with
  error-callback compensations, Redis broker, acks_late, visibility timeout 30 s, the
  worker (prefork x4) on every core; the kill is the worker's process group.
- ``kefu-sqlite`` (``bench.saga_kefu``): a real ``kefu serve`` with the refund saga in
  its config, sagas started through ``POST /api/v1/sagas/refund`` with an idempotency
  key (resubmitted with the same key while the node is down), the node on the server core.

Rows per subject: ``sagas_per_s`` (final sagas / first submission to last final status,
the kills and restarts included), ``saga_latency_p99_ms`` (submission to final status),
``stuck`` (not final after the drain; target 0) and ``half_applied`` (department records
disagreeing with the outcome, or partial; target 0).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import saga_kefu
from bench.procs import Server, start_server
from bench.saga_plan import WRITE_FAILURE_RATE, PlannedSaga, customers_for, plan
from bench.saga_runs import department_systems, limits, monitor, records, result
from bench.scenarios.common import Context, Outcome, Row, at_most

NAME = "sagas"
CELERY = "celery-chain-redis"
REDIS_URL = "redis://127.0.0.1:6379/6"  # the bench's own database, flushed per run
SIZES = {"quick": 500, "full": 10_000}
KILLS = 2
CELERY_POOL = ("prefork", 4)


def sizes(ctx: Context) -> tuple[int, int]:
    count = int(os.environ.get("BENCH_SAGAS", SIZES[ctx.profile.name]))
    kills = int(os.environ.get("BENCH_SAGA_KILLS", KILLS))
    return count, kills


def planned(count: int) -> list[PlannedSaga]:
    from kefu.demo_systems.dataset import build_dataset

    dataset = build_dataset(customers=customers_for(count))
    orders = [(o.order_no, o.customer_key, o.total, o.status) for o in dataset.orders]
    return plan(orders, count)


# -- Celery ---------------------------------------------------------------------------


def _celery_worker(ctx: Context, label: str, env: dict[str, str]) -> Server:
    celery = Path(sys.executable).with_name("celery")
    pool, concurrency = CELERY_POOL
    argv = [str(celery), "-A", "bench.celery_sagas", "worker", f"--pool={pool}"]
    argv += [f"--concurrency={concurrency}", "--loglevel=warning"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    cores = ctx.cpus.server | ctx.cpus.loadgen
    return start_server(label, argv, cpus=cores, log_dir=ctx.run_dir, env=env)


def run_celery(ctx: Context, sagas: list[PlannedSaga], kills: int) -> dict[str, Any]:
    import redis

    from bench import celery_sagas

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    db_path = ctx.run_dir / "sagas-celery.db"
    db_path.unlink(missing_ok=True)
    celery_sagas.prepare_db(str(db_path))
    stall_s, limit_s = limits(len(sagas))
    with department_systems(
        ctx, "sagas-celery-sims", customers_for(len(sagas)), WRITE_FAILURE_RATE
    ) as urls:
        env = {
            "BENCH_CELERY_BROKER": REDIS_URL,
            "BENCH_SAGA_DB": str(db_path),
            "BENCH_SAGA_URLS": __import__("json").dumps(urls),
        }
        os.environ.update(env)  # the producer (this process) publishes to the same broker
        celery_sagas.app.conf.broker_url = REDIS_URL
        worker = [_celery_worker(ctx, "sagas-celery-worker-0", env)]
        submitted: dict[str, float] = {}
        state: dict[str, bool] = {"submitting": True}

        def submit() -> None:
            try:
                for saga in sagas:
                    saga_id = f"celery-{saga.index}"
                    submitted[saga_id] = time.time()
                    celery_sagas.refund_chain(saga_id, saga.input()).apply_async()
            finally:
                state["submitting"] = False

        def kill_and_restart() -> dict[str, Any]:
            old = worker[0]
            t0 = time.monotonic()
            os.killpg(old.pid, signal.SIGKILL)
            old.proc.wait()
            worker[0] = _celery_worker(ctx, f"sagas-celery-worker-{len(timeline_kills) + 1}", env)
            timeline_kills.append(1)
            return {"restart_s": round(time.monotonic() - t0, 2)}

        timeline_kills: list[int] = []
        started = time.monotonic()
        first_submit = time.time()
        producer = threading.Thread(target=submit, name="celery-producer", daemon=True)
        producer.start()
        timeline = monitor(
            len(sagas), kills, lambda: int(broker.hlen(celery_sagas.OUTCOME_KEY)),
            kill_and_restart, lambda: state["submitting"], stall_s, limit_s, started,
        )  # fmt: skip
        producer.join(timeout=60)
        worker[0].stop()
        outcomes_raw = {
            k.decode(): v.decode() for k, v in broker.hgetall(celery_sagas.OUTCOME_KEY).items()
        }
        finished = {
            k.decode(): float(v) for k, v in broker.hgetall(celery_sagas.FINISHED_KEY).items()
        }
        found = records(urls)
    broker.flushdb()
    broker.close()
    outcomes: dict[str, str | None] = {s: outcomes_raw.get(s) for s in submitted}
    latencies = [finished[s] - t for s, t in submitted.items() if s in finished]
    last_final = max(finished.values()) if finished else None
    extra = {"pool": f"{CELERY_POOL[0]}x{CELERY_POOL[1]}", "visibility_timeout_s": 30}
    return result(CELERY, outcomes, latencies, first_submit, last_final, found, timeline, extra)


# -- rows -----------------------------------------------------------------------------


def rows_of(res: dict[str, Any], baseline: str | None) -> list[Row]:
    subject = res["subject"]

    def base(metric: str) -> tuple[str, str, str] | None:
        return (NAME, baseline, metric) if baseline else None

    kills = ", ".join(f"{k['at_s']}s" for k in res["kills"]) or "none"
    note = (
        f"{res['sagas']} sagas, outcomes {res['outcomes']}; killed at {kills}; "
        f"drain: {res['drain_reason']}"
    )
    if res.get("unsubmitted"):
        note += f"; {res['unsubmitted']} never accepted before the time limit (not counted)"
    stuck_target, stuck_met = at_most(res["stuck"], 0)
    half_target, half_met = at_most(res["half_applied"], 0)
    examples = res.get("half_applied_examples") or []
    return [
        Row(NAME, subject, "sagas_per_s", res["sagas_per_s"], "sagas/s", better="higher",
            baseline=base("sagas_per_s"), note=note),
        Row(NAME, subject, "saga_latency_p99_ms", res["latency_ms"]["p99"], "ms", better="lower",
            baseline=base("saga_latency_p99_ms"),
            note=f"submission -> final status, p50 {res['latency_ms']['p50']} ms"),
        Row(NAME, subject, "stuck", res["stuck"], "sagas", better="lower", target=stuck_target,
            met=stuck_met, baseline=base("stuck")),
        Row(NAME, subject, "half_applied", res["half_applied"], "sagas", better="lower",
            target=half_target, met=half_met, baseline=base("half_applied"),
            note=f"e.g. {examples[0]}" if examples else ""),
    ]  # fmt: skip


def run(ctx: Context) -> Outcome:
    count, kills = sizes(ctx)
    sagas = planned(count)
    outcome = Outcome(details={"sagas": count, "kills": kills})
    ctx.log(f"{NAME}: {CELERY}, {count} sagas, {kills} kills")
    celery = run_celery(ctx, sagas, kills)
    outcome.rows += rows_of(celery, None)
    outcome.details[CELERY] = celery
    ctx.log(f"{NAME}: {CELERY}: {celery['sagas_per_s']} sagas/s, stuck {celery['stuck']}, "
            f"half_applied {celery['half_applied']}")  # fmt: skip
    ctx.log(f"{NAME}: kefu, {count} sagas, {kills} kills")
    try:
        kefu = saga_kefu.run_kefu(ctx, sagas, kills)
    except Exception as exc:  # the baseline's rows stay; the error is in the details
        outcome.details["kefu_error"] = f"{type(exc).__name__}: {exc}"
        ctx.log(f"{NAME}: kefu FAILED: {outcome.details['kefu_error']}")
        outcome.rows.append(
            Row(NAME, saga_kefu.SUBJECT, "sagas_per_s", None, "sagas/s",
                note=f"kefu side failed: {outcome.details['kefu_error'][:300]}")
        )  # fmt: skip
        return outcome
    outcome.rows += rows_of(kefu, CELERY)
    outcome.details[kefu["subject"]] = kefu
    ctx.log(f"{NAME}: {kefu['subject']}: {kefu['sagas_per_s']} sagas/s, stuck {kefu['stuck']}, "
            f"half_applied {kefu['half_applied']}")  # fmt: skip
    return outcome
