"""Scenarios ``events_celery``, ``events_kefu`` and ``events_jetstream`` (issue "events").

Events processed end to end: ingest -> durable -> rules -> effect stored. One rule for
every subject: ``customer.complaint`` -> a high-priority ticket "Complaint: {data.summary}".
A run sends N events (all different ids) as fast as the subject takes them and is timed
from the first event sent until the N-th ticket row is committed (``SELECT count(*) FROM
tickets`` every 100 ms); events/s = N / that time. Each run is preceded by a warm-up
whose tickets are not counted, works on a fresh store, and is bounded in count and time
(a run past its limit reports what it did by then and says so).

- ``events_kefu``: a kefu node in-process (``running_node``, ``bus: memory://``: the
  store's ``outbox`` is the durable log), events appended with ``node.events.append`` in
  chunks of 1,000 (the REST batch limit; no HTTP), the rules consumer at
  ``events.batch`` 500, 1,000 and 2,000; the best batch is the row, every batch in the
  note. SQLite (embedded default) and PostgreSQL (a fresh database per run). Target
  >= 100,000 events/s. Then one more run per store at the best batch, not measured: SQL
  statements counted and timed per kind (SQLAlchemy cursor events) and py-spy sampling
  the node, for where the time goes.
- ``events_jetstream``: the same with ``bus: nats://`` on a nats-server of the bench's own
  (``-js``, fresh store directory per run, on the load-generator core): append publishes
  to JetStream, the rules consumer pulls. Target >= 50,000 events/s.
- ``events_celery`` (the baseline): Celery on the machine's Redis (a database of its own,
  purged per run) running the same rule (``bench.celery_baseline``): ``apply_async`` per
  event from a producer process, the worker as a subprocess (``--pool=prefork
  --concurrency=2`` and ``--pool=threads --concurrency=4``, the faster one is the row),
  each task one transaction (processed_events + ticket). Same once-only guarantee.

Floors, measured in the same run beside kefu (``python -m bench.events job`` too, pinned to
the server core like kefu's job), so a target below what the pieces cost shows as such:

- ``floor-store-<store>`` (both scenarios): the rows kefu writes per event and nothing
  else, in kefu's transactions at kefu's best batch, on a fresh store migrated by kefu:
  stdlib ``sqlite3`` executemany with kefu's pragmas and checkpoint thread, or asyncpg
  ``copy_records_to_table`` with kefu's two lanes. Rows are built before the clock with
  kefu's own values and bind processors. With ``memory://``: the event's outbox row
  (1,000 a transaction) and its delete, processed_events, ticket and ticket_history; with
  ``nats://``: the same with the ticket.created outbox row in place of the event's.
- ``floor-nats-client`` (``events_jetstream``): kefu's own ``JetStreamEventLog`` (append,
  consume, ``append_encoded`` as the outbox relay) with a handler that only returns DONE,
  on a nats-server of its own: per event two messages published with PubAcks and two
  pulled and acked, no store, no rules.

The kefu rows ``*_vs_store_floor`` / ``*_vs_nats_client_floor`` / ``*_vs_both_floors``
carry kefu's figure with the floor as baseline (ratio kefu / floor), and the events/s
note says where the target needs less CPU per event than a floor (or more events/s
than the floor made).

Processes: the kefu job (node + its ingest) runs alone on the server core. Celery's
producer runs on the load-generator core and its worker on every core (a user gives a
worker all the machine's cores), which favours the baseline. PostgreSQL and Redis are the
machine's, shared; each run records the CPU of the measured processes, of those services
(machine-wide: they serve the neighbours too), and of everything else (neighbours), so
a slow run under a busy neighbour says so. CPU per event is the steadiest comparison.
The events/s note names what held the best run back: the node's one core (>= 90% busy:
CPU per event sets the ceiling) or waiting on the services (the busiest named), beside
the CPU budget per event the target would need.

Latency: each sampled event's send time (before its append / ``apply_async``) to its
ticket's ``created_at`` (the effect's transaction time, same machine clock). Measured under
the saturating load above, so it is mostly queueing behind the backlog, not an idle
system's latency.

``python -m bench.events job`` is the child processes' entry point (JSON job on stdin).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import pg
from bench.customer360 import git_state, summarize
from bench.procs import (
    JobError,
    core_times,
    cpu_seconds,
    free_port,
    run_json_job,
    running,
    start_server,
)
from bench.scenarios.common import Context, Outcome, Row, at_least

MODULE = "bench.events"
CELERY = "events_celery"
KEFU = "events_kefu"
JETSTREAM = "events_jetstream"
FLOOR_NATS = "floor-nats-client"
RULE: dict[str, Any] = {
    "name": "complaint",
    "on": "customer.complaint",
    "do": [{"create_ticket": {"subject": "Complaint: {data.summary}", "priority": "high"}}],
}
MEMORY_TARGET = 100_000.0
JETSTREAM_TARGET = 50_000.0
REDIS_URL = "redis://127.0.0.1:6379/5"  # a database of the bench's own, purged per run
PG_DB = "kefu_bench_events"
INGEST_CHUNK = 1_000  # events per append: the REST batch limit (events.max_batch_events)
POLL_S = 0.1
KEFU_WARMUP = 1_000
CELERY_WARMUP = 40
WARMUP_LIMIT_S = 90.0
SERVICES = ("postgres", "redis-server", "nats-server")
SUBJECT_INDEX = re.compile(r"#(\d+) ")
SERVER_READY_S = 30.0
# A node process this busy over a run is held back by its one core, not by waiting.
CPU_BOUND_PCT = 90.0


@dataclass(frozen=True)
class Sizes:
    kefu_events: int
    celery_events: int
    batches: tuple[int, ...]
    run_limit_s: float
    celery_pools: tuple[tuple[str, int], ...]
    # Runs of each variant (interleaved); the best is the row, every run in the details.
    tries: int
    latency_samples: int
    pyspy_rate_hz: int
    # Runs of each floor (a second or less each: one neighbour's burst moves one run).
    floor_tries: int


SIZES = {
    "quick": Sizes(
        kefu_events=10_000,
        celery_events=2_000,
        batches=(500, 1_000, 2_000),
        run_limit_s=60.0,
        celery_pools=(("prefork", 2), ("threads", 4)),
        tries=1,
        latency_samples=1_000,
        pyspy_rate_hz=200,
        floor_tries=3,
    ),
    "full": Sizes(
        kefu_events=50_000,
        celery_events=10_000,
        batches=(500, 1_000, 2_000),
        run_limit_s=150.0,
        celery_pools=(("prefork", 2), ("threads", 4)),
        tries=2,
        latency_samples=2_000,
        pyspy_rate_hz=200,
        floor_tries=3,
    ),
}


# --------------------------------------------------------------------------- measuring


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return [raw[raw.index("(") + 1 : raw.rindex(")")], *raw[raw.rindex(")") + 2 :].split()]


def session_pids(session: int) -> list[int]:
    """Every process of a session (a worker started with setsid and its children)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            # [comm, state, ppid, pgrp, session, ...]
            if stat is not None and int(stat[4]) == session:
                found.append(int(entry))
    return found


def service_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of the machine's PostgreSQL, Redis and NATS processes."""
    out: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is None or stat[0] not in SERVICES:
            continue
        with contextlib.suppress(OSError, ValueError):
            out[int(entry)] = (stat[0], cpu_seconds(int(entry)))
    return out


class Meter:
    """CPU over a measured stretch, in % of one core: the measured processes, the store
    and broker services (machine-wide), and everything else on the machine."""

    def __init__(self, subject: Callable[[], list[int]]) -> None:
        self._subject = subject
        self._cores = frozenset(os.sched_getaffinity(0)) | frozenset(range(os.cpu_count() or 1))

    def __enter__(self) -> Meter:
        self._pids0 = {pid: cpu_seconds(pid) for pid in self._subject()}
        self._svc0 = service_cpu()
        self._all0 = core_times(self._cores)
        self._t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._t0
        subject = 0.0
        for pid in set(self._subject()) | set(self._pids0):
            with contextlib.suppress(OSError, ValueError, IndexError):
                subject += cpu_seconds(pid) - self._pids0.get(pid, 0.0)
        services: Counter[str] = Counter()
        for pid, (name, cpu) in service_cpu().items():
            before = self._svc0.get(pid)
            services[name] += cpu - (before[1] if before and before[0] == name else 0.0)
        all_cores = core_times(self._cores) - self._all0
        other = all_cores.task_s - subject - sum(services.values())
        self.wall_s = wall
        self.subject_cpu_s = subject
        self.shares = {
            "cores": len(self._cores),
            "measured_cpu_pct": round(100 * subject / wall, 1),
            "services_cpu_pct": {k: round(100 * v / wall, 1) for k, v in sorted(services.items())},
            "services_note": "machine-wide: these servers also serve other users of the machine",
            "other_cpu_pct": round(max(0.0, 100 * other / wall), 1),
            "irq_pct": round(100 * all_cores.irq_s / wall, 1),
            "steal_pct": round(100 * all_cores.steal_s / wall, 1),
        }


def latency_summary(
    created: Sequence[tuple[str, datetime]], sent_at: dict[int, float], samples: int
) -> dict[str, Any]:
    """Send time -> ticket ``created_at`` for every k-th measured event (``#<index> `` in
    the ticket subject)."""
    by_index: dict[int, float] = {}
    for subject, at in created:
        match = SUBJECT_INDEX.search(subject)
        if match:
            by_index[int(match[1])] = at.timestamp()
    step = max(1, len(sent_at) // max(1, samples))
    values = [
        by_index[i] - sent for i, sent in sorted(sent_at.items()) if i % step == 0 and i in by_index
    ]
    return summarize(values)


def event_payload(run: str, index: int) -> dict[str, Any]:
    return {
        "id": f"{run}-{index}",
        "type": "customer.complaint",
        "customer_key": f"C{1000 + index % 1000}",
        "data": {"summary": f"parcel #{index} lost", "severity": "high"},
        "source": "bench",
    }


# --------------------------------------------------------------------------- kefu job


class SqlCounter:
    """Statements per kind (verb + table, executemany apart): calls and time in the driver
    (the store round trip; through aiosqlite's thread on SQLite)."""

    WORDS = re.compile(r"\b(INSERT INTO|DELETE FROM|UPDATE|FROM)\s+\"?(\w+)", re.IGNORECASE)

    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0, "seconds": 0.0})
        self.timeline: dict[str, list[float]] = defaultdict(list)

    def attach(self, sync_engine: Any) -> None:
        from sqlalchemy import event

        event.listen(sync_engine, "before_cursor_execute", self._before)
        event.listen(sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(
        self, conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool
    ) -> None:
        elapsed = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        match = self.WORDS.search(statement)
        kind = f"{verb} {match[2]}" if match else statement.strip()[:40]
        if many:
            kind += " (executemany)"
        entry = self.kinds[kind]
        entry["calls"] += 1
        entry["seconds"] += elapsed
        self.timeline[kind].append(elapsed)

    def report(self, events: int) -> list[dict[str, Any]]:
        return [
            {
                "statement": kind,
                "calls": int(v["calls"]),
                "ms_total": round(v["seconds"] * 1000, 1),
                "us_per_event": round(v["seconds"] * 1e6 / events, 2),
                # Mean ms per call over the first and the last quarter of the run's calls:
                # a statement getting slower as tables grow shows here.
                "ms_per_call_first_last_quarter": _quarters(self.timeline[kind]),
            }
            for kind, v in sorted(self.kinds.items(), key=lambda kv: -kv[1]["seconds"])
        ]


def _quarters(values: Sequence[float]) -> list[float] | None:
    if len(values) < 4:
        return None
    q = len(values) // 4
    return [round(1000 * sum(part) / len(part), 2) for part in (values[:q], values[-q:])]


async def kefu_job(job: dict[str, Any]) -> dict[str, Any]:
    """A kefu node in this process: warm up, then N events appended, until N tickets."""
    import sqlalchemy as sa

    from kefu.bootstrap import running_node
    from kefu.config import load_settings
    from kefu.runner import tune_gc
    from kefu.store.tables import outbox, tickets

    try:
        from kefu.domain.envelope import Event
    except ImportError:  # a tree before issue 13 (bench/events_ab.py runs older trees)
        from kefu.events.envelope import Event  # type: ignore[no-redef]

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    data_dir = Path(job["data_dir"])
    settings = load_settings(
        None,
        data_dir=data_dir,
        store=job["store"],
        bus=job["bus"],
        rules=[RULE],
        events={"batch": job["batch"]},
    )
    n, limit = int(job["events"]), float(job["limit_s"])
    run = f"r{os.getpid()}"
    warm = [Event(**event_payload(f"{run}w", i)) for i in range(KEFU_WARMUP)]
    events = [Event(**event_payload(run, i)) for i in range(n)]
    async with running_node(settings) as node:
        db = node.repos.db

        async def count() -> int:
            async with db.connect() as conn:
                found = await conn.execute(sa.select(sa.func.count()).select_from(tickets))
                return int(found.scalar_one())

        async def top_id() -> int:
            async with db.connect() as conn:
                found = await conn.execute(sa.select(sa.func.max(tickets.c.id)))
                return int(found.scalar_one() or 0)

        async def outbox_rows() -> int:
            async with db.connect() as conn:
                found = await conn.execute(sa.select(sa.func.count()).select_from(outbox))
                return int(found.scalar_one())

        async def wait_for(total: int, until: float) -> int:
            # max(id) is one index probe; count(*) (a scan) only once it says "maybe done":
            # ids are unique and positive, so count <= max(id).
            while True:
                if await top_id() >= total or time.monotonic() > until:
                    done = await count()
                    if done >= total or time.monotonic() > until:
                        return done
                await asyncio.sleep(POLL_S)

        for i in range(0, len(warm), INGEST_CHUNK):
            await node.events.append(warm[i : i + INGEST_CHUNK])
        warmed = await wait_for(KEFU_WARMUP, time.monotonic() + WARMUP_LIMIT_S)
        if warmed < KEFU_WARMUP:
            raise RuntimeError(f"warm-up: {warmed} of {KEFU_WARMUP} tickets")
        if db.dialect == "postgresql":
            # Table statistics, as autovacuum has them on any store up for a minute: on a
            # never-analyzed processed_events the dedupe SELECT's plan scans the whole
            # table per batch (README, "Events": 2 -> 354 ms per batch over 30k rows).
            async with db.begin() as conn:
                await conn.execute(sa.text("ANALYZE"))
        tune_gc()
        sql = SqlCounter() if job.get("count_sql") else None
        if sql is not None:
            sql.attach(db.engine.sync_engine)
        pyspy = _start_pyspy(job.get("pyspy"))
        sent_at: dict[int, float] = {}
        meter = Meter(lambda: [os.getpid()])
        with meter:
            t0 = time.perf_counter()
            deadline = time.monotonic() + limit
            for i in range(0, n, INGEST_CHUNK):
                stamp = time.time()
                for j in range(i, min(n, i + INGEST_CHUNK)):
                    sent_at[j] = stamp
                await node.events.append(events[i : i + INGEST_CHUNK])
                if time.monotonic() > deadline:
                    break
            ingest_s = time.perf_counter() - t0
            ingested = len(sent_at)
            done = await wait_for(KEFU_WARMUP + n, deadline) - KEFU_WARMUP
            elapsed = time.perf_counter() - t0
            # The tickets' own ticket.created events still go through the consumer: the
            # time until the outbox is empty too (with JetStream, until the relay has
            # published them). CPU per event counts up to here: all the work an event causes.
            left_at_done = await outbox_rows()
            while left_at_done and time.monotonic() < deadline and await outbox_rows():
                await asyncio.sleep(POLL_S)
            drained = time.perf_counter() - t0
        profile = _stop_pyspy(pyspy)
        async with db.connect() as conn:
            rows = await conn.execute(
                sa.select(tickets.c.subject, tickets.c.created_at).where(tickets.c.id > KEFU_WARMUP)
            )
            created = [(r.subject, r.created_at) for r in rows]
            per_table = {
                name: int(
                    (await conn.execute(sa.text(f"SELECT count(*) FROM {name}"))).scalar_one()
                )
                for name in ("tickets", "ticket_history", "processed_events", "outbox")
            }
    return {
        "events": n,
        "ingested": ingested,
        "tickets": done,
        "complete": done >= n,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done / elapsed, 1),
        "ingest_events_per_s": round(ingested / ingest_s, 1),
        "outbox_rows_left_at_last_ticket": left_at_done,
        "seconds_until_outbox_empty": round(drained, 3),
        "latency_ms": latency_summary(created, sent_at, int(job["latency_samples"])),
        "cpu": meter.shares,
        "cpu_us_per_event": round(meter.subject_cpu_s * 1e6 / max(1, done), 1),
        "rows_after": per_table,
        "sql": sql.report(max(1, done)) if sql is not None else None,
        "pyspy": profile,
    }


def _start_pyspy(spec: dict[str, Any] | None) -> tuple[subprocess.Popen[bytes], Path] | None:
    if not spec:
        return None
    out = Path(spec["out"])
    argv = [spec["exe"], "record", "--pid", str(os.getpid()), "--rate", str(spec["rate"])]
    argv += ["--format", "raw", "--output", str(out), "--nonblocking", "--threads"]
    argv += ["--duration", str(int(spec["seconds"]))]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # attached before the measured events start
    return proc, out


def _stop_pyspy(started: tuple[subprocess.Popen[bytes], Path] | None) -> dict[str, Any] | None:
    if started is None:
        return None
    proc, out = started
    proc.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"skipped": "py-spy did not stop"}
    if not out.exists():
        return {"skipped": f"py-spy exited {proc.returncode}: {err.decode()[-300:]}"}
    return {"raw_file": str(out), **parse_pyspy(out.read_text())}


# Inclusive shares: samples whose stack holds the frame, as share of all CPU samples.
INCLUSIVE: tuple[tuple[str, str], ...] = (
    (
        "ingest: StoreEventLog.append (outbox insert of the sent events)",
        "append (kefu/events/store_log.py",
    ),
    ("ingest: JetStream append (publish + PubAcks)", "append (kefu/bus/jetstream/log.py"),
    ("consumer: read outbox rows (_due_rows)", "_due_rows (kefu/events/store_log.py"),
    ("consumer: settle (DELETE outbox rows)", "_settle (kefu/events/store_log.py"),
    ("consumer: JetStream fetch/ack (_process)", "_process (kefu/bus/jetstream/consumer.py"),
    ("decode events (decode_trusted/decode)", "decode"),
    ("rules: dedupe SELECT processed_events", "_not_yet_processed (kefu/events/processor.py"),
    ("rules: plan (match + render)", "_plan (kefu/events/processor.py"),
    ("rules: effects transaction (_store)", "_store (kefu/events/processor.py"),
    ("  tickets: RuleTickets.create_for_rules", "create_for_rules (kefu/tickets/rule_effects.py"),
    ("  tickets: _check_draft", "_check_draft (kefu/tickets/service.py"),
    ("  tickets: _new_ticket (SLA targets)", "_new_ticket (kefu/tickets/service.py"),
    ("  tickets: INSERT tickets RETURNING id", "create_many (kefu/store/tickets.py"),
    ("  tickets: history rows (add_history)", "add_history (kefu/store/tickets.py"),
    ("  tickets: ticket_record (row -> Ticket)", "ticket_record (kefu/store/tickets.py"),
    ("  tickets: ticket.created events built", "created (kefu/tickets/events.py"),
    ("  outbox emit (encode + INSERT outbox)", "emit (kefu/store/unit_of_work.py"),
    ("SQLAlchemy compile", "compile"),
    ("SQLAlchemy execute (all statements)", "_execute_context (sqlalchemy/"),
    ("JSON (msgspec/json encode)", "encode"),
    ("asyncpg", "asyncpg/"),
    ("aiosqlite", "aiosqlite/"),
    ("sqlite3 (C, in the aiosqlite thread)", "sqlite3"),
)


# Exclusive parts: each sample goes to the innermost frame matching one of these (frames
# of the standard library are passed over, so their time goes to their caller's part).
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("idle: aiosqlite thread waiting for work", ("aiosqlite/core.py:59)",)),
    ("sqlite3 work (aiosqlite threads)", ("aiosqlite/",)),
    ("asyncpg driver", ("asyncpg/",)),
    ("nats-py client", ("nats/",)),
    ("stdlib json (JSON columns)", ("json/",)),
    ("SQLAlchemy type processors (dialects)", ("sqlalchemy/dialects/",)),
    ("SQLAlchemy statement compile and params (sql/)", ("sqlalchemy/sql/",)),
    ("SQLAlchemy execute and result rows (engine/, other)", ("sqlalchemy/",)),
    ("kefu SLA due dates (domain/sla.py)", ("kefu/domain/sla.py",)),
    ("kefu tickets (service, repository, events)", ("kefu/tickets/", "kefu/store/tickets.py")),
    (
        "kefu rules processor (processor.py, rules.py)",
        ("kefu/events/processor.py", "kefu/events/rules.py"),
    ),
    (
        "kefu event log (outbox, envelope, store log, JetStream)",
        ("kefu/events/", "kefu/bus/"),
    ),
    ("kefu other", ("kefu/",)),
    ("bench job (polls, py-spy start)", ("bench/",)),
    ("event loop (uvloop C: callbacks, I/O, waiting)", ("Runner.run (asyncio/runners.py",)),
)


def _part(frames: Sequence[str]) -> str:
    for frame in reversed(frames):
        for name, markers in PARTS:
            if any(marker in frame for marker in markers):
                return name
    return "other (stdlib only)"


def parse_pyspy(text: str) -> dict[str, Any]:
    """Exclusive parts, inclusive shares of the pipeline's steps and top leaf frames, from
    ``py-spy record --format raw --threads``."""
    total = 0
    threads: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        part = _part(frames[1:])
        parts[part] += count
        if part != PARTS[0][0]:
            threads[frames[0].split(" ", 2)[-1] if frames else "?"] += count
        for label, marker in INCLUSIVE:
            if any(marker in frame for frame in frames[1:]):
                inclusive[label] += count
        leaves[frames[-1]] += count
    if not total:
        return {"samples": 0}
    idle = parts.get(PARTS[0][0], 0)
    busy = max(1, total - idle)

    def pct(n: int) -> float:
        return round(100 * n / busy, 1)

    return {
        "samples": total,
        "idle_samples": idle,
        "what": "py-spy --threads, % of the node's busy samples (all threads, idle waits of "
        "aiosqlite's threads left out). SQLAlchemy's async layer runs statements in a "
        "greenlet whose stack py-spy shows without the caller's frames, so inclusive "
        "shares of kefu functions leave out the SQL they issue; the exclusive parts and "
        "the SQL statement timings in 'sql' are the fuller split",
        "threads": {name: pct(n) for name, n in threads.most_common(6)},
        "parts": {name: pct(n) for name, n in parts.most_common() if name != PARTS[0][0]},
        "inclusive": {label: pct(inclusive[label]) for label, _ in INCLUSIVE},
        "top_leaf_frames": [{"frame": f, "pct": pct(n)} for f, n in leaves.most_common(20)],
    }


# --------------------------------------------------------------------------- floor jobs
#
# What kefu's events path cannot go below, measured in the same run as kefu:
# ``floor_store`` writes the rows kefu writes per event with the thinnest client there is
# (stdlib sqlite3 executemany; asyncpg COPY), ``floor_nats`` moves the messages kefu's
# JetStream path moves per event through kefu's own JetStream client with a handler that
# only says DONE. Both run pinned to the server core, as the kefu job does.

FLOOR_ACTOR = "rule:complaint"  # kefu's rule_actor("complaint").key: created_by, history actor
_SQLITE_LAST_ID = "SELECT last_insert_rowid()"
_SQLITE_DELETE = "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))"
_PG_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"


@dataclass
class FloorRows:
    """Per event, the rows kefu writes, as the driver values kefu's bulk inserts hand the
    driver (``kefu.store.bulk``: each column's bind processor applied), built before the
    clock starts. ``history`` lacks the ticket id, known only once the tickets are in."""

    outbox: list[tuple[Any, ...]]  # the event itself (memory://: the store is the log)
    processed: list[tuple[Any, ...]]
    tickets: list[tuple[Any, ...]]
    history: list[tuple[Any, ...]]
    created: list[tuple[Any, ...]]  # its ticket's ticket.created (nats://: relayed)
    sql: dict[str, str]  # SQLite INSERTs, as kefu compiles them
    columns: dict[str, tuple[str, ...]]


def floor_rows(dialect: Any, run: str, count: int, first_ticket_id: int) -> FloorRows:
    """The rows kefu's rule consumer and outbox write for ``count`` complaint events: the
    same columns and values (subject and body rendered by kefu's ``render`` from the rule,
    priority high, channel rule, the default SLA policy's due dates, the history detail,
    the ``ticket.created`` payload), one ``now`` for the whole run."""
    from datetime import UTC

    from kefu.config import load_settings
    from kefu.domain.envelope import Event, encode
    from kefu.domain.tickets import Channel, NewTicket, Priority, SlaState, Ticket, TicketStatus
    from kefu.events.processor import CONSUMER, _context
    from kefu.events.rules import CreateTicket, render
    from kefu.store import bulk
    from kefu.store.outbox import COLUMNS as OUTBOX_COLUMNS
    from kefu.store.tables import outbox, processed_events, ticket_history, tickets
    from kefu.store.tickets import HISTORY_COLUMNS, TICKET_COLUMNS
    from kefu.store.tickets import _row as ticket_row
    from kefu.tickets import events as ticket_events
    from kefu.tickets.policies import sla_rules

    rules = sla_rules(load_settings(None, rules=[RULE]).tickets)
    now = datetime.now(UTC)
    policy = rules.choose(None)
    due = rules.targets(policy, Priority.HIGH, now)
    sla = SlaState(
        policy=policy,
        first_response_due_at=due.first_response_due_at,
        resolution_due_at=due.resolution_due_at,
    )
    detail = {"channel": "rule", "status": "new", "priority": "high"}  # one dict, as kefu
    action = CreateTicket(**RULE["do"][0]["create_ticket"])  # as kefu's rule has it
    raw: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for i in range(count):
        event = Event(**event_payload(run, i))
        raw["outbox"].append((event.subject, event.id, encode(event), now))
        raw["processed"].append((CONSUMER, event.id, now))
        context = _context(event, None)
        subject = render(action.subject, context)[:300] or RULE["name"]
        new = NewTicket(
            subject=subject.strip(),
            body=render(action.body, context) or subject,
            status=TicketStatus.NEW,
            priority=Priority.HIGH,
            customer_key=event.customer_key,
            assignee_id=None,
            queue=None,
            conversation_id=None,
            channel=Channel.RULE,
            created_by=FLOOR_ACTOR,
            created_at=now,
            sla=sla,
        )
        raw["tickets"].append(ticket_row(new))
        raw["history"].append((0, now, FLOOR_ACTOR, "created", detail))
        ticket = Ticket(
            id=first_ticket_id + i,
            **{f: getattr(new, f) for f in NewTicket.__struct_fields__},
            updated_at=now,
        )
        made = ticket_events.created(ticket, FLOOR_ACTOR, now)
        raw["created"].append((made.subject, made.id, encode(made), now))
    tables = {
        "outbox": (outbox, OUTBOX_COLUMNS),
        "processed": (processed_events, ("consumer", "event_id", "processed_at")),
        "tickets": (tickets, TICKET_COLUMNS),
        "history": (ticket_history, HISTORY_COLUMNS),
        "created": (outbox, OUTBOX_COLUMNS),
    }
    values: dict[str, list[tuple[Any, ...]]] = {}
    sql: dict[str, str] = {}
    columns: dict[str, tuple[str, ...]] = {}
    for name, (table, cols) in tables.items():
        plan = bulk._plan(table, cols, dialect)
        values[name] = bulk._driver_rows(plan, raw[name])
        sql[name] = plan.sql
        columns[name] = tuple(cols)
    values["history"] = [row[1:] for row in values["history"]]
    return FloorRows(sql=sql, columns=columns, **values)


@contextlib.contextmanager
def _sqlite_tx(conn: Any) -> Iterator[None]:
    """The driver's own transaction, as kefu's SQLite writer runs it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _sqlite_floor(conn: Any, rows: FloorRows, batch: int, mode: str, deadline: float) -> int:
    """The rows of ``rows`` as kefu's transactions write them; returns the events done.

    memory://: the events' outbox rows in transactions of ``INGEST_CHUNK`` (the append),
    then per batch one transaction with processed_events, tickets and history, and one
    deleting the batch's outbox rows (the settle). nats://: per batch one transaction with
    processed_events, tickets, history and the ticket.created outbox rows, and one deleting
    those (the relay).
    """

    def insert_ids(sql: str, values: list[tuple[Any, ...]]) -> list[int]:
        conn.executemany(sql, values)
        last = int(conn.execute(_SQLITE_LAST_ID).fetchone()[0])
        return list(range(last - len(values) + 1, last + 1))

    def process(a: int, b: int, outbox_ids: list[int]) -> None:
        with _sqlite_tx(conn):
            conn.executemany(rows.sql["processed"], rows.processed[a:b])
            ids = insert_ids(rows.sql["tickets"], rows.tickets[a:b])
            history = [(t, *h) for t, h in zip(ids, rows.history[a:b], strict=True)]
            conn.executemany(rows.sql["history"], history)
            if mode == "nats":
                outbox_ids = insert_ids(rows.sql["created"], rows.created[a:b])
        with _sqlite_tx(conn):
            conn.execute(_SQLITE_DELETE, (json.dumps(outbox_ids),))

    n = len(rows.processed)
    done = 0
    if mode == "nats":
        for a in range(0, n, batch):
            process(a, min(n, a + batch), [])
            done = min(n, a + batch)
            if time.monotonic() > deadline:
                break
        return done
    pending: list[int] = []
    for i in range(0, n, INGEST_CHUNK):
        with _sqlite_tx(conn):
            pending += insert_ids(rows.sql["outbox"], rows.outbox[i : i + INGEST_CHUNK])
        last = i + INGEST_CHUNK >= n
        while len(pending) >= batch or (last and pending):
            taken, pending = pending[:batch], pending[batch:]
            process(done, done + len(taken), taken)
            done += len(taken)
        if time.monotonic() > deadline:
            break
    return done


async def _pg_floor(
    conns: Sequence[Any], rows: FloorRows, batch: int, mode: str, deadline: float
) -> int:
    """``_sqlite_floor``'s transactions on PostgreSQL with asyncpg: ids from the sequences
    (as kefu takes them: COPY returns none), rows by ``copy_records_to_table``, one batch
    in flight per connection but the first (kefu's consumer lanes), the ingest of
    memory:// on the first, concurrently. The connections are open before (as kefu's pool
    is), so the Meter sees their PostgreSQL backends."""
    nextval = {}
    for table in ("outbox", "tickets"):
        seq = await conns[0].fetchval("SELECT pg_get_serial_sequence($1, 'id')", table)
        nextval[table] = f"SELECT nextval('{seq}') FROM generate_series(1, $1)"

    async def ids(conn: Any, table: str, count: int) -> list[int]:
        return sorted(int(r[0]) for r in await conn.fetch(nextval[table], count))

    async def copy(conn: Any, name: str, table: str, records: list[tuple[Any, ...]]) -> None:
        await conn.copy_records_to_table(table, records=records, columns=rows.columns[name])

    async def copy_with_ids(conn: Any, name: str, table: str, values: Any) -> list[int]:
        new = await ids(conn, table, len(values))
        records = [(i, *row) for i, row in zip(new, values, strict=True)]
        cols = ("id", *rows.columns[name])
        await conn.copy_records_to_table(table, records=records, columns=cols)
        return new

    n = len(rows.processed)
    pending: deque[int] = deque()
    state = {"taken": 0, "done": 0, "ingested": mode == "nats"}
    wake = asyncio.Event()

    async def ingest(conn: Any) -> None:
        for i in range(0, n, INGEST_CHUNK):
            async with conn.transaction():
                chunk = rows.outbox[i : i + INGEST_CHUNK]
                pending.extend(await copy_with_ids(conn, "outbox", "outbox", chunk))
            wake.set()
            if time.monotonic() > deadline:
                break
        state["ingested"] = True
        wake.set()

    def take() -> tuple[int, int, list[int]] | None:
        a = state["taken"]
        if mode == "nats":
            if a >= n or time.monotonic() > deadline:
                return (a, a, [])
            state["taken"] = b = min(n, a + batch)
            return (a, b, [])
        if len(pending) >= batch or (state["ingested"] and pending):
            outbox_ids = [pending.popleft() for _ in range(min(batch, len(pending)))]
            state["taken"] = a + len(outbox_ids)
            return (a, a + len(outbox_ids), outbox_ids)
        return (a, a, []) if state["ingested"] else None

    async def lane(conn: Any) -> None:
        while True:
            work = take()
            if work is None:
                wake.clear()
                await wake.wait()
                continue
            a, b, outbox_ids = work
            if a == b:
                return
            async with conn.transaction():
                await copy(conn, "processed", "processed_events", rows.processed[a:b])
                new = await copy_with_ids(conn, "tickets", "tickets", rows.tickets[a:b])
                history = [(t, *h) for t, h in zip(new, rows.history[a:b], strict=True)]
                await copy(conn, "history", "ticket_history", history)
                if mode == "nats":
                    created = rows.created[a:b]
                    outbox_ids = await copy_with_ids(conn, "created", "outbox", created)
            async with conn.transaction():
                await conn.execute(_PG_DELETE, outbox_ids)
            state["done"] += b - a

    tasks = [lane(conn) for conn in conns[1:]]
    if mode == "memory":
        tasks.append(ingest(conns[0]))
    await asyncio.gather(*tasks)
    return state["done"]


async def floor_store_job(job: dict[str, Any]) -> dict[str, Any]:
    """The store floor: kefu's rows per event, the thinnest client, on a fresh store
    migrated by kefu (warm-up of ``KEFU_WARMUP`` events first, then ANALYZE on
    PostgreSQL, as for kefu)."""
    import sqlalchemy as sa

    from kefu.events.store_log import LANES
    from kefu.runner import tune_gc
    from kefu.store.database import Database, _sqlite_path, _sqlite_pragmas, _SqliteCheckpointer

    url, mode, batch = job["store"], job["mode"], int(job["batch"])
    n, limit = int(job["events"]), float(job["limit_s"])
    run = f"f{os.getpid()}"
    async with Database(url) as db:  # kefu's engine: its dialect converts the values
        async with db.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        dialect, kind = db.engine.dialect, db.dialect
        warm = floor_rows(dialect, f"{run}w", KEFU_WARMUP, 1)
        rows = floor_rows(dialect, run, n, KEFU_WARMUP + 1)
    lanes = LANES.get(kind, 1)
    checkpointer = None
    conns: list[Any] = []
    if kind == "sqlite":
        import sqlite3

        path = _sqlite_path(db.url)
        assert path is not None
        sqlite = sqlite3.connect(path, isolation_level=None)
        _sqlite_pragmas(sqlite, None)  # kefu's: WAL, synchronous=NORMAL, no autocheckpoint
        checkpointer = _SqliteCheckpointer(path)  # kefu's checkpoint thread, every second
        checkpointer.start()

        async def write(what: FloorRows, until: float) -> int:
            return _sqlite_floor(sqlite, what, batch, mode, until)
    else:
        import asyncpg

        conns = [await asyncpg.connect(url) for _ in range(lanes + 1)]

        async def write(what: FloorRows, until: float) -> int:
            return await _pg_floor(conns, what, batch, mode, until)

    async def counts() -> dict[str, int]:
        async with Database(url) as check, check.connect() as conn:
            return {
                name: int(
                    (await conn.execute(sa.text(f"SELECT count(*) FROM {name}"))).scalar_one()
                )
                for name in ("tickets", "ticket_history", "processed_events", "outbox")
            }

    try:
        warmed = await write(warm, time.monotonic() + WARMUP_LIMIT_S)
        if warmed < KEFU_WARMUP:
            raise RuntimeError(f"warm-up: {warmed} of {KEFU_WARMUP} events")
        if kind == "postgresql":
            async with Database(url) as admin, admin.begin() as conn:
                await conn.execute(sa.text("ANALYZE"))
        tune_gc()
        meter = Meter(lambda: [os.getpid()])
        with meter:
            t0, cpu0 = time.perf_counter(), time.process_time()
            done = await write(rows, time.monotonic() + limit)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        if checkpointer is not None:
            sqlite.close()
            checkpointer.stop()
        for conn in conns:
            await conn.close()
    tables = await counts()
    if tables["tickets"] != KEFU_WARMUP + done or tables["outbox"] != 0:
        raise RuntimeError(f"floor wrote {tables} for {KEFU_WARMUP} + {done} events")
    store_s = sum(
        share * meter.wall_s / 100
        for name, share in meter.shares["services_cpu_pct"].items()
        if name == "postgres"
    )
    return {
        "events": n,
        "tickets": done,
        "complete": done >= n,
        "batch": batch,
        "lanes": lanes if kind == "postgresql" else 1,
        "mode": mode,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done / elapsed, 1),
        "cpu": meter.shares,
        "cpu_us_per_event": round(meter.subject_cpu_s * 1e6 / max(1, done), 1),
        # The same CPU from process_time(), finer than /proc's 10 ms ticks: a cross-check.
        "cpu_us_per_event_process_time": round(cpu * 1e6 / max(1, done), 2),
        "store_cpu_us_per_event": round(store_s * 1e6 / max(1, done), 1)
        if kind == "postgresql"
        else None,
        "rows_after": tables,
    }


async def floor_nats_job(job: dict[str, Any]) -> dict[str, Any]:
    """The NATS client floor: kefu's ``JetStreamEventLog`` against the bench's nats-server,
    its ``append`` (1,000 events a call, PubAcks on one inbox) and ``consume`` (the raw pull
    protocol, decode, ack) with a handler that only returns DONE, after handing each
    complaint's ``ticket.created`` (encoded as kefu's relay reads it from the outbox) to a
    relay task that publishes up to a batch at a time with ``append_encoded``, as kefu's
    outbox relay does. No store, no rules."""
    from kefu.bus.jetstream import JetStreamEventLog
    from kefu.domain.envelope import Event
    from kefu.events.log import DONE, Received, Result
    from kefu.events.processor import CONSUMER
    from kefu.events.settings import EventSettings
    from kefu.runner import tune_gc

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    batch, n, limit = int(job["batch"]), int(job["events"]), float(job["limit_s"])
    run = f"n{os.getpid()}"
    # The ticket.created payloads, as the outbox holds them (built with SQLite's dialect:
    # the payload is bytes either way).
    import sqlalchemy as sa

    dialect = sa.create_engine("sqlite://").dialect
    warm_rows = floor_rows(dialect, f"{run}w", KEFU_WARMUP, 1)
    rows = floor_rows(dialect, run, n, KEFU_WARMUP + 1)
    relayed: dict[str, tuple[str, str, bytes]] = {}
    for what, prefix, count in ((warm_rows, f"{run}w", KEFU_WARMUP), (rows, run, n)):
        for i in range(count):
            subject, event_id, payload, _ = what.created[i]
            relayed[f"{prefix}-{i}"] = (subject, event_id, bytes(payload))
    warm = [Event(**event_payload(f"{run}w", i)) for i in range(KEFU_WARMUP)]
    events = [Event(**event_payload(run, i)) for i in range(n)]
    settings = EventSettings(batch=batch)
    outbox: deque[tuple[str, str, bytes]] = deque()
    relay_wake = asyncio.Event()
    seen = {"handled": 0, "goal": 0}
    reached = asyncio.Event()

    async def handle(items: Sequence[Received]) -> list[Result]:
        for item in items:
            made = relayed.get(item.event.id)
            if made is not None:
                outbox.append(made)
        if outbox:
            relay_wake.set()
        seen["handled"] += len(items)
        if seen["handled"] >= seen["goal"]:
            reached.set()
        return [DONE] * len(items)

    async with JetStreamEventLog(job["url"], settings) as log:

        async def relay() -> None:
            while True:
                if not outbox:
                    relay_wake.clear()
                    await relay_wake.wait()
                    continue
                chunk = [outbox.popleft() for _ in range(min(batch, len(outbox)))]
                await log.append_encoded(chunk)

        async def drained(until: float) -> bool:
            """Every message acknowledged on the server (the acks are fire-and-forget)."""
            js = log._js
            assert js is not None
            while time.monotonic() < until:
                info = await js.consumer_info(settings.jetstream.stream, CONSUMER)
                if not info.num_ack_pending and not info.num_pending:
                    return True
                await asyncio.sleep(0.02)
            return False

        async def send(what: list[Event], goal: int, until: float) -> tuple[float, int]:
            seen["goal"] = goal
            reached.clear()
            t0 = time.perf_counter()
            for i in range(0, len(what), INGEST_CHUNK):
                await log.append(what[i : i + INGEST_CHUNK])
                if time.monotonic() > until:
                    break
            ingest_s = time.perf_counter() - t0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reached.wait(), max(0.1, until - time.monotonic()))
            return ingest_s, seen["handled"]

        tasks = [
            asyncio.create_task(log.consume(CONSUMER, handle)),
            asyncio.create_task(relay()),
        ]
        try:
            until = time.monotonic() + WARMUP_LIMIT_S
            _, handled = await send(warm, 2 * KEFU_WARMUP, until)
            if handled < 2 * KEFU_WARMUP or not await drained(until):
                raise RuntimeError(f"warm-up: {handled} of {2 * KEFU_WARMUP} messages handled")
            tune_gc()
            meter = Meter(lambda: [os.getpid()])
            with meter:
                t0, cpu0 = time.perf_counter(), time.process_time()
                deadline = time.monotonic() + limit
                ingest_s, handled = await send(events, 2 * (KEFU_WARMUP + n), deadline)
                complete = await drained(deadline)
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    messages = handled - 2 * KEFU_WARMUP
    done = messages // 2
    nats_s = meter.shares["services_cpu_pct"].get("nats-server", 0.0) * meter.wall_s / 100
    return {
        "events": n,
        "messages_handled": messages,
        "complete": complete and messages >= 2 * n,
        "tickets": done,  # events whose two messages were handled (for _limit_note)
        "batch": batch,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done / elapsed, 1),
        "ingest_events_per_s": round(n / ingest_s, 1),
        "cpu": meter.shares,
        "cpu_us_per_event": round(meter.subject_cpu_s * 1e6 / max(1, done), 1),
        "cpu_us_per_event_process_time": round(cpu * 1e6 / max(1, done), 2),
        "nats_server_cpu_us_per_event": round(nats_s * 1e6 / max(1, done), 1),
    }


# --------------------------------------------------------------------------- celery job


def celery_job(job: dict[str, Any]) -> dict[str, Any]:
    """The producer: warm up, then N ``apply_async`` in a loop, until N tickets."""
    import sqlalchemy as sa

    from bench.celery_baseline import handle_event, sync_url

    engine = sa.create_engine(sync_url(job["store"]))
    n, limit = int(job["events"]), float(job["limit_s"])
    run = f"r{os.getpid()}"

    def count(what: str = "count(*)") -> int:
        with engine.connect() as conn:
            found = conn.execute(sa.text(f"SELECT {what} FROM tickets")).scalar_one()
            return int(found or 0)

    def wait_for(total: int, until: float) -> int:
        while True:  # as kefu_job's: max(id) first, count(*) once it may be done
            if count("max(id)") >= total or time.monotonic() > until:
                done = count()
                if done >= total or time.monotonic() > until:
                    return done
            time.sleep(POLL_S)

    for i in range(CELERY_WARMUP):
        handle_event.apply_async((json.dumps(event_payload(f"{run}w", i)),))
    warmed = wait_for(CELERY_WARMUP, time.monotonic() + WARMUP_LIMIT_S)
    if warmed < CELERY_WARMUP:
        raise RuntimeError(f"warm-up: {warmed} of {CELERY_WARMUP} tickets (is the worker up?)")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # as for kefu: statistics, as autovacuum has them
            conn.execute(sa.text("ANALYZE"))
    worker = int(job["worker_pid"])
    payloads = [json.dumps(event_payload(run, i)) for i in range(n)]
    sent_at: dict[int, float] = {}
    meter = Meter(lambda: [os.getpid(), *session_pids(worker)])
    with meter:
        t0 = time.perf_counter()
        deadline = time.monotonic() + limit
        for i, payload in enumerate(payloads):
            sent_at[i] = time.time()
            handle_event.apply_async((payload,))
            if i % 500 == 0 and time.monotonic() > deadline:
                break
        ingest_s = time.perf_counter() - t0
        done = wait_for(CELERY_WARMUP + n, deadline) - CELERY_WARMUP
        elapsed = time.perf_counter() - t0
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT subject, created_at FROM tickets WHERE id > :w"), {"w": CELERY_WARMUP}
        )
        created = [(r.subject, _as_utc(r.created_at)) for r in rows]
    engine.dispose()
    return {
        "events": n,
        "ingested": len(sent_at),
        "tickets": done,
        "complete": done >= n,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done / elapsed, 1),
        "ingest_events_per_s": round(len(sent_at) / ingest_s, 1),
        "latency_ms": latency_summary(created, sent_at, int(job["latency_samples"])),
        "cpu": meter.shares,
        "cpu_us_per_event": round(meter.subject_cpu_s * 1e6 / max(1, done), 1),
    }


def _as_utc(value: Any) -> datetime:
    from datetime import UTC

    if isinstance(value, str):  # SQLite through a plain text() query
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


JOBS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "kefu": kefu_job,
    "celery": celery_job,
    "floor_store": floor_store_job,
    "floor_nats": floor_nats_job,
}


def _child_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("command", choices=["job"])
    parser.parse_args(argv)
    job = json.loads(sys.stdin.read())
    try:
        work = JOBS[job["job"]](job)
        if asyncio.iscoroutine(work):
            import uvloop

            work = uvloop.run(work)
        print(json.dumps({"ok": True, "result": work}, default=str))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)


# --------------------------------------------------------------------------- parent


def run_job(
    ctx: Context,
    job: dict[str, Any],
    cpus: frozenset[int],
    timeout_s: float,
    label: str,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``python -m bench.events job`` pinned to ``cpus``, its stderr to the run directory,
    killed with its process group past ``timeout_s``."""
    log_path = ctx.run_dir / f"{label}.log"
    with log_path.open("wb") as log:
        return run_json_job(
            [sys.executable, "-m", MODULE, "job"],
            job,
            cpus,
            timeout_s,
            label,
            stderr=log,
            env={"PYTHONUNBUFFERED": "1", **(env or {})},
            hint=f" (see {log_path})",
        )


def store_kinds(ctx: Context) -> list[str]:
    return ["sqlite", "postgresql"] if ctx.postgres else ["sqlite"]


def fresh_store(ctx: Context, kind: str, label: str) -> str:
    """A new SQLite file under the run directory, or PostgreSQL's bench database recreated."""
    if kind == "postgresql":
        return pg.fresh_database(ctx.pg_admin_dsn, PG_DB)
    path = ctx.run_dir / label / "kefu.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def migrate(url: str) -> None:
    from kefu.store.database import Database

    async def apply() -> None:
        async with Database(url) as db:
            await db.migrate()

    asyncio.run(asyncio.wait_for(apply(), 120))


def _budget(sizes: Sizes) -> float:
    return WARMUP_LIMIT_S + sizes.run_limit_s + 120.0


def _neighbours(cpu: dict[str, Any]) -> str:
    other = cpu.get("other_cpu_pct", 0.0)
    return f"neighbours used {other}% of a core" if other >= 20 else ""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _best_of(runs: Sequence[dict[str, Any]], key: str) -> str:
    """``500: 5,106/s (4,870)``: per variant its best run, the others in brackets."""
    by: dict[Any, list[float]] = defaultdict(list)
    for run in runs:
        by[run[key]].append(run["events_per_s"])
    parts = []
    for variant, rates in by.items():
        best, *rest = sorted(rates, reverse=True)
        more = f" ({', '.join(f'{r:,.0f}' for r in rest)})" if rest else ""
        parts.append(f"{variant}: {best:,.0f}/s{more}")
    return ", ".join(parts)


def _bound_note(result: dict[str, Any], target: float) -> str:
    """What held the run back: the node's one core (CPU per event), or waiting on the
    store or broker (the busiest service named), against the CPU budget of the target."""
    cpu = result["cpu"]
    busy = float(cpu["measured_cpu_pct"])
    per_event = float(result["cpu_us_per_event"])
    budget = f"the target needs <= {1e6 / target:,.0f} us per event on one core"
    ceiling = f"{per_event:g} us CPU per event caps one core at ~{1e6 / per_event:,.0f}/s"
    if busy >= CPU_BOUND_PCT:
        return f"limit: the node's core ({busy:.0f}% busy; {ceiling}; {budget})"
    services = cpu.get("services_cpu_pct") or {}
    if services:
        name, share = max(services.items(), key=lambda kv: kv[1])
        waiting = f"waiting on the services (busiest: {name}, {share:.0f}% of a core)"
    else:
        waiting = "waiting on the store"
    return f"limit: {waiting}, the node {busy:.0f}% busy ({ceiling}; {budget})"


def _limit_note(result: dict[str, Any], limit: float) -> str:
    if result["complete"]:
        return ""
    return f"time limit {limit:g}s hit: {result['tickets']} of {result['events']} tickets"


# -- Celery ---------------------------------------------------------------------------


@contextlib.contextmanager
def celery_worker(
    ctx: Context, store: str, pool: str, concurrency: int, label: str
) -> Iterator[int]:
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    celery = Path(sys.executable).with_name("celery")
    argv = [str(celery), "-A", "bench.celery_baseline", "worker", f"--pool={pool}"]
    argv += [f"--concurrency={concurrency}", "--loglevel=warning"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    env = {"BENCH_CELERY_STORE": store, "BENCH_CELERY_BROKER": REDIS_URL}
    cores = ctx.cpus.server | ctx.cpus.loadgen
    server = start_server(label, argv, cpus=cores, log_dir=ctx.run_dir, env=env)
    try:
        with running(server):
            yield server.pid
    finally:
        broker.flushdb()
        broker.close()


def run_celery(ctx: Context) -> Outcome:
    sizes = SIZES[ctx.profile.name]
    outcome = Outcome()
    runs: dict[str, list[dict[str, Any]]] = {}
    variants = [
        (kind, pool, concurrency, attempt)
        for kind in store_kinds(ctx)
        for attempt in range(sizes.tries)
        for pool, concurrency in sizes.celery_pools
    ]
    for kind, pool, concurrency, attempt in variants:
        label = f"events-celery-{kind}-{pool}{concurrency}-{attempt + 1}"
        ctx.log(
            f"{CELERY}: {kind}, --pool={pool} --concurrency={concurrency}, "
            f"{sizes.celery_events} events"
        )
        store = fresh_store(ctx, kind, label)
        migrate(store)
        with celery_worker(ctx, store, pool, concurrency, label + "-worker") as worker:
            result = run_job(
                ctx,
                {
                    "job": "celery",
                    "store": store,
                    "worker_pid": worker,
                    "events": sizes.celery_events,
                    "limit_s": sizes.run_limit_s,
                    "latency_samples": sizes.latency_samples,
                },
                ctx.cpus.loadgen,
                _budget(sizes),
                label,
                env={"BENCH_CELERY_BROKER": REDIS_URL, "BENCH_CELERY_STORE": store},
            )
        result["pool"] = f"{pool}x{concurrency}"
        result["try"] = attempt + 1
        runs.setdefault(kind, []).append(result)
        rate = result["events_per_s"]
        ctx.log(f"{CELERY}: {kind} {pool}x{concurrency}: {rate:,.0f} events/s")
    for kind, tries in runs.items():
        best = max(tries, key=lambda r: r["events_per_s"])
        subject = f"celery-{kind}"
        others = _best_of(tries, "pool")
        outcome.rows += [
            Row(
                CELERY,
                subject,
                "events_per_s",
                best["events_per_s"],
                "events/s",
                better="higher",
                note=_join(
                    f"best pool {best['pool']} ({others}); worker on all cores, acks_late, "
                    "dedupe row + ticket in one transaction per event (same once-only "
                    "guarantee); no SLA, history row or ticket.created event",
                    _limit_note(best, sizes.run_limit_s),
                    _neighbours(best["cpu"]),
                ),
            ),
            Row(
                CELERY,
                subject,
                "ingest_events_per_s",
                best["ingest_events_per_s"],
                "events/s",
                better="higher",
                note="apply_async in a loop, one producer process",
            ),
            Row(
                CELERY,
                subject,
                "latency_p50_ms",
                best["latency_ms"]["p50"],
                "ms",
                better="lower",
                note="send -> ticket created_at, under the saturating load",
            ),
            Row(CELERY, subject, "latency_p99_ms", best["latency_ms"]["p99"], "ms", better="lower"),
            Row(
                CELERY,
                subject,
                "cpu_us_per_event",
                best["cpu_us_per_event"],
                "us",
                better="lower",
                note="producer + worker processes; Redis and the store not included",
            ),
        ]
    outcome.details = {"runs": runs, "code": git_state(), "rule": RULE}
    return outcome


# -- kefu -----------------------------------------------------------------------------


@contextlib.contextmanager
def nats_server(ctx: Context, label: str) -> Iterator[str]:
    """A nats-server with JetStream of the bench's own, fresh store, load-generator core."""
    exe = shutil.which("nats-server")
    if exe is None:
        raise RuntimeError("nats-server not installed")
    port = free_port()
    store_dir = Path(tempfile.mkdtemp(prefix="js-", dir=ctx.run_dir))
    argv = [exe, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir)]
    server = start_server(label, argv, cpus=ctx.cpus.loadgen, log_dir=ctx.run_dir)
    with running(server):
        deadline = time.monotonic() + SERVER_READY_S
        while True:
            with contextlib.suppress(OSError):
                import socket

                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            if not server.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start:\n{server.log_tail()}")
            time.sleep(0.1)
        yield f"nats://127.0.0.1:{port}"
    shutil.rmtree(store_dir, ignore_errors=True)


def kefu_run(
    ctx: Context, kind: str, bus: str, label: str, sizes: Sizes, batch: int, **extra: Any
) -> dict[str, Any]:
    store = fresh_store(ctx, kind, label)
    data_dir = ctx.run_dir / label / "data"
    data_dir.mkdir(parents=True, exist_ok=True)

    def go(bus_url: str) -> dict[str, Any]:
        return run_job(
            ctx,
            {
                "job": "kefu",
                "store": store,
                "bus": bus_url,
                "batch": batch,
                "data_dir": str(data_dir),
                "events": sizes.kefu_events,
                "limit_s": sizes.run_limit_s,
                "latency_samples": sizes.latency_samples,
                **extra,
            },
            ctx.cpus.server,
            _budget(sizes),
            label,
        )

    if bus == "nats":
        with nats_server(ctx, label + "-nats") as url:
            result = go(url)
    else:
        result = go("memory://")
    result["batch"] = batch
    return result


def floor_store_run(
    ctx: Context, kind: str, mode: str, label: str, sizes: Sizes, batch: int
) -> dict[str, Any]:
    """The store floor on a fresh store migrated by kefu, pinned to the server core."""
    store = fresh_store(ctx, kind, label)
    migrate(store)
    job = {"job": "floor_store", "store": store, "mode": mode, "batch": batch}
    job |= {"events": sizes.kefu_events, "limit_s": sizes.run_limit_s}
    return run_job(ctx, job, ctx.cpus.server, _budget(sizes), label)


def floor_nats_run(ctx: Context, label: str, sizes: Sizes, batch: int) -> dict[str, Any]:
    """The NATS client floor against a nats-server of its own, pinned to the server core."""
    with nats_server(ctx, label + "-nats") as url:
        job = {"job": "floor_nats", "url": url, "batch": batch}
        job |= {"events": sizes.kefu_events, "limit_s": sizes.run_limit_s}
        return run_job(ctx, job, ctx.cpus.server, _budget(sizes), label)


def _floor_runs(
    ctx: Context, label: str, sizes: Sizes, run: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """``sizes.floor_tries`` runs of a floor; the best (events/s) with every run, or the
    error."""
    tries: list[dict[str, Any]] = []
    errors: list[str] = []
    for attempt in range(sizes.floor_tries):
        try:
            result = run(f"{label}-{attempt + 1}")
        except JobError as exc:
            errors.append(str(exc))
            continue
        result["try"] = attempt + 1
        tries.append(result)
        ctx.log(
            f"{label}: {result['events_per_s']:,.0f} events/s, "
            f"{result['cpu_us_per_event']:g} us CPU per event"
        )
    if not tries:
        return {"error": "; ".join(errors) or "not run"}
    best = max(tries, key=lambda r: r["events_per_s"])
    return {**best, "runs": tries, "errors": errors}


def _pyspy_exe() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def run_kefu_bus(ctx: Context, scenario: str, bus: str, target: float) -> Outcome:
    sizes = SIZES[ctx.profile.name]
    outcome = Outcome()
    runs: dict[str, list[dict[str, Any]]] = {}
    diagnosis: dict[str, Any] = {}
    floors: dict[str, dict[str, Any]] = {}
    for kind in store_kinds(ctx):
        for attempt, batch in [(a, b) for a in range(sizes.tries) for b in sizes.batches]:
            label = f"{scenario}-{kind}-b{batch}-{attempt + 1}"
            ctx.log(f"{scenario}: {kind}, events.batch={batch}, {sizes.kefu_events} events")
            result = kefu_run(ctx, kind, bus, label, sizes, batch)
            result["try"] = attempt + 1
            runs.setdefault(kind, []).append(result)
            ctx.log(f"{scenario}: {kind} batch {batch}: {result['events_per_s']:,.0f} events/s")
        best = max(runs[kind], key=lambda r: r["events_per_s"])
        label = f"{scenario}-{kind}-diagnose"
        ctx.log(f"{scenario}: {kind}, batch {best['batch']} again with SQL counters and py-spy")
        exe = _pyspy_exe()
        pyspy = None
        if exe is not None:
            seconds = max(2, min(60, int(best["seconds"] * 3 + 5)))
            out = ctx.run_dir / f"{label}-pyspy.txt"
            pyspy = {"exe": exe, "out": str(out), "rate": sizes.pyspy_rate_hz, "seconds": seconds}
        try:
            diagnosis[kind] = kefu_run(
                ctx, kind, bus, label, sizes, best["batch"], count_sql=True, pyspy=pyspy
            )
        except JobError as exc:
            diagnosis[kind] = {"error": str(exc)}
        label = f"{scenario}-{kind}-floor"
        ctx.log(f"{scenario}: {kind}, store floor at batch {best['batch']}")
        floors[f"floor-store-{kind}"] = _floor_runs(
            ctx,
            label,
            sizes,
            lambda name, kind=kind, batch=best["batch"]: floor_store_run(
                ctx, kind, bus, name, sizes, batch
            ),
        )
    if bus == "nats":
        # One client floor for the scenario, at the batch of its fastest kefu run.
        fastest = max((r for tries in runs.values() for r in tries), key=_rate)
        ctx.log(f"{scenario}: NATS client floor at batch {fastest['batch']}")
        floors[FLOOR_NATS] = _floor_runs(
            ctx,
            f"{scenario}-floor-nats",
            sizes,
            lambda name: floor_nats_run(ctx, name, sizes, fastest["batch"]),
        )
    subject_bus = "memory" if bus == "memory" else "jetstream"
    for kind, tries in runs.items():
        best = max(tries, key=lambda r: r["events_per_s"])
        subject = f"kefu-{subject_bus}-{kind}"
        base = f"celery-{kind}"
        per_batch = _best_of(tries, "batch")
        text, met = at_least(best["events_per_s"], target)
        outcome.rows += [
            Row(
                scenario,
                subject,
                "events_per_s",
                best["events_per_s"],
                "events/s",
                better="higher",
                target=text,
                met=met,
                baseline=(CELERY, base, "events_per_s"),
                note=_join(
                    f"events.batch={best['batch']} best (batch {per_batch}); node alone on one "
                    "core, ingest in-process (append 1,000 per call, no HTTP); outbox empty "
                    f"at {best['seconds_until_outbox_empty']:.1f} s (last ticket at "
                    f"{best['seconds']:.1f} s)",
                    _bound_note(best, target),
                    _floor_note(target, _floors_of(kind, floors)),
                    _limit_note(best, sizes.run_limit_s),
                    _neighbours(best["cpu"]),
                ),
            ),
            Row(
                scenario,
                subject,
                "ingest_events_per_s",
                best["ingest_events_per_s"],
                "events/s",
                better="higher",
                baseline=(CELERY, base, "ingest_events_per_s"),
                note="node.events.append of 1,000 events, while the consumer runs",
            ),
            Row(
                scenario,
                subject,
                "latency_p50_ms",
                best["latency_ms"]["p50"],
                "ms",
                better="lower",
                baseline=(CELERY, base, "latency_p50_ms"),
                note="send -> ticket created_at, under the saturating load",
            ),
            Row(
                scenario,
                subject,
                "latency_p99_ms",
                best["latency_ms"]["p99"],
                "ms",
                better="lower",
                baseline=(CELERY, base, "latency_p99_ms"),
            ),
            Row(
                scenario,
                subject,
                "cpu_us_per_event",
                best["cpu_us_per_event"],
                "us",
                better="lower",
                baseline=(CELERY, base, "cpu_us_per_event"),
                note="the node process (ingest + consumer); the store and broker not included",
            ),
        ]
        outcome.rows += _store_floor_rows(scenario, subject, kind, bus, best, floors, sizes)
        outcome.rows += _diagnosis_rows(scenario, subject, diagnosis.get(kind, {}))
    outcome.rows += _nats_floor_rows(scenario, floors, sizes)
    outcome.details = {
        "runs": runs,
        "diagnosis": diagnosis,
        "floors": floors,
        "code": git_state(),
        "rule": RULE,
        "sizes": sizes.__dict__,
    }
    return outcome


def _rate(run: dict[str, Any]) -> float:
    return float(run["events_per_s"])


def _floors_of(kind: str, floors: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The floors measured for a store (its store floor, the NATS client floor if any)."""
    found = [(name, floors.get(name)) for name in (f"floor-store-{kind}", FLOOR_NATS)]
    return [(name, f) for name, f in found if f and "error" not in f]


def _floor_note(target: float, floors: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """Where it holds, that the target needs less CPU per event (on one core) than a floor
    measured beside kefu, or more events/s than the floor made."""
    budget = 1e6 / target
    costly = [
        f"{name} {f['cpu_us_per_event']:g} us"
        for name, f in floors
        if f["cpu_us_per_event"] > budget
    ]
    if len(floors) == 2:  # jetstream: the node's core does both the store's and NATS's work
        total = sum(f["cpu_us_per_event"] for _, f in floors)
        if total > budget:
            costly.append(f"both together {total:g} us")
    slow = [
        f"{name} {f['events_per_s']:,.0f}/s" for name, f in floors if f["events_per_s"] < target
    ]
    parts = []
    if costly:
        parts.append(
            f"the target needs less CPU per event (<= {budget:g} us on one core) than the "
            f"floor: {', '.join(costly)}"
        )
    if slow:
        parts.append(f"the floor itself made less than the target: {', '.join(slow)}")
    return "; ".join(parts)


def _floor_extras(floor: dict[str, Any], sizes: Sizes) -> str:
    every = ", ".join(
        f"{r['events_per_s']:,.0f}/s {r['cpu_us_per_event']:g} us" for r in floor.get("runs", [])
    )
    return _join(
        f"best of {len(floor.get('runs', []))} runs ({every})" if floor.get("runs") else "",
        _limit_note(floor, sizes.run_limit_s),
        _neighbours(floor["cpu"]),
    )


def _store_floor_rows(
    scenario: str,
    subject: str,
    kind: str,
    bus: str,
    best: dict[str, Any],
    floors: dict[str, dict[str, Any]],
    sizes: Sizes,
) -> list[Row]:
    """The store floor's rows and kefu's figures against them (ratio kefu / floor)."""
    name = f"floor-store-{kind}"
    floor = floors.get(name) or {"error": "not run"}
    if "error" in floor:
        return [Row(scenario, name, "events_per_s", None, "events/s", note=floor["error"])]
    client = (
        "stdlib sqlite3 executemany (kefu's pragmas: WAL, synchronous=NORMAL, "
        "wal_autocheckpoint=0, and kefu's checkpoint thread every second), SQLite in this "
        "process"
        if kind == "sqlite"
        else "asyncpg copy_records_to_table, ids from the sequences (nextval, as kefu), "
        f"{floor['lanes']} batches in flight on connections of their own (kefu's lanes)"
    )
    if bus == "memory":
        writes = (
            "the event's outbox row (1,000 a transaction, as append), then per batch one "
            "transaction with processed_events + ticket (3 secondary indexes) + "
            "ticket_history and one deleting the batch's outbox rows (the settle)"
        )
        left_out = "the dedupe SELECT, any outbox read"
    else:
        writes = (
            "per batch one transaction with processed_events + ticket (3 secondary "
            "indexes) + ticket_history + the ticket.created outbox row, then one deleting "
            "those outbox rows (the relay's delete)"
        )
        left_out = "any JetStream (floor-nats-client), the dedupe SELECT, the relay's outbox read"
    note = (
        f"the rows kefu writes per event and nothing else, at batch {floor['batch']} (kefu's "
        f"best), fresh store migrated by kefu, {KEFU_WARMUP:,}-event warm-up: {writes}; "
        f"{client}; rows built before the clock with kefu's values (rendered subject and "
        f"body, SLA due dates, payloads) and its bind processors. Not included: {left_out}, "
        "encoding, rules, SLA, SQLAlchemy, polling"
    )
    pg_cpu = floor.get("store_cpu_us_per_event")
    rows = [
        Row(
            scenario,
            name,
            "events_per_s",
            floor["events_per_s"],
            "events/s",
            better="higher",
            note=_join(note, _floor_extras(floor, sizes)),
        ),
        Row(
            scenario,
            name,
            "cpu_us_per_event",
            floor["cpu_us_per_event"],
            "us",
            better="lower",
            note="the floor job's process, on the server core"
            + (" (SQLite works in it)" if kind == "sqlite" else "; PostgreSQL apart")
            + f"; process_time() says {floor['cpu_us_per_event_process_time']:g}",
        ),
    ]
    if pg_cpu is not None:
        rows.append(
            Row(
                scenario,
                name,
                "store_cpu_us_per_event",
                pg_cpu,
                "us",
                better="lower",
                note="PostgreSQL's processes over the floor run (machine-wide: other users' "
                f"queries too; {floor['cpu']['services_cpu_pct'].get('postgres', 0)}% of a "
                "core)",
            )
        )
    rows += [
        Row(
            scenario,
            subject,
            "events_per_s_vs_store_floor",
            best["events_per_s"],
            "events/s",
            better="higher",
            baseline=(scenario, name, "events_per_s"),
            note="kefu's best run; ratio = kefu / store floor",
        ),
        Row(
            scenario,
            subject,
            "cpu_us_per_event_vs_store_floor",
            best["cpu_us_per_event"],
            "us",
            better="lower",
            baseline=(scenario, name, "cpu_us_per_event"),
            note="kefu's node process / the floor job's process",
        ),
    ]
    nats = floors.get(FLOOR_NATS)
    if nats and "error" not in nats:
        both = f"floor-store+nats-client-{kind}"
        total = round(floor["cpu_us_per_event"] + nats["cpu_us_per_event"], 1)
        rows += [
            Row(
                scenario,
                subject,
                "cpu_us_per_event_vs_nats_client_floor",
                best["cpu_us_per_event"],
                "us",
                better="lower",
                baseline=(scenario, FLOOR_NATS, "cpu_us_per_event"),
                note="kefu's node process / the NATS client floor's process",
            ),
            Row(
                scenario,
                both,
                "cpu_us_per_event",
                total,
                "us",
                better="lower",
                note=f"{name} + {FLOOR_NATS}, measured apart: the CPU one node needs per event "
                "at least for its store client and its NATS client",
            ),
            Row(
                scenario,
                subject,
                "cpu_us_per_event_vs_both_floors",
                best["cpu_us_per_event"],
                "us",
                better="lower",
                baseline=(scenario, both, "cpu_us_per_event"),
                note="kefu's node process / the sum of the two floors",
            ),
        ]
    return rows


def _nats_floor_rows(scenario: str, floors: dict[str, dict[str, Any]], sizes: Sizes) -> list[Row]:
    floor = floors.get(FLOOR_NATS)
    if floor is None:
        return []
    if "error" in floor:
        return [Row(scenario, FLOOR_NATS, "events_per_s", None, "events/s", note=floor["error"])]
    note = (
        f"kefu's own JetStreamEventLog (its client code minus store and rules) against a "
        f"nats-server of the bench's own, at batch {floor['batch']}, {KEFU_WARMUP:,}-event "
        "warm-up: append of 1,000 events a call (encode, publish, PubAck on one wildcard "
        "inbox), consume with the raw pull protocol (decode, ack) and a handler that only "
        "hands each complaint's ticket.created (encoded before the clock) to a relay task and "
        "returns DONE; the relay publishes up to a batch with append_encoded, as kefu's "
        "outbox relay; the ticket.created is pulled and acked too: 2 published messages with "
        "PubAcks and 2 pulled and acked per event; timed until nats-server has every ack. "
        "Not included: the store, rules, the relay's outbox read and delete"
    )
    return [
        Row(
            scenario,
            FLOOR_NATS,
            "events_per_s",
            floor["events_per_s"],
            "events/s",
            better="higher",
            note=_join(note, _floor_extras(floor, sizes)),
        ),
        Row(
            scenario,
            FLOOR_NATS,
            "cpu_us_per_event",
            floor["cpu_us_per_event"],
            "us",
            better="lower",
            note="the floor job's process, on the server core; process_time() says "
            f"{floor['cpu_us_per_event_process_time']:g}",
        ),
        Row(
            scenario,
            FLOOR_NATS,
            "nats_server_cpu_us_per_event",
            floor["nats_server_cpu_us_per_event"],
            "us",
            better="lower",
            note="every nats-server process (machine-wide: the machine's own too), "
            f"{floor['cpu']['services_cpu_pct'].get('nats-server', 0)}% of a core",
        ),
    ]


# Rows from the diagnosis run (SQL counters and py-spy: not the measured runs).
DIAG_SQL_ROWS = 6
DIAG_PART_ROWS = 8


def _diagnosis_rows(scenario: str, subject: str, diag: dict[str, Any]) -> list[Row]:
    rows = []
    for entry in (diag.get("sql") or [])[:DIAG_SQL_ROWS]:
        rows.append(
            Row(
                scenario,
                subject,
                f"sql_us_per_event: {entry['statement']}",
                entry["us_per_event"],
                "us",
                note=f"{entry['calls']:,} calls in {entry['ms_total']:,.0f} ms; wall time in "
                "the driver (the store round trip), diagnosis run",
            )
        )
    spy = diag.get("pyspy") or {}
    for name, value in list((spy.get("parts") or {}).items())[:DIAG_PART_ROWS]:
        rows.append(
            Row(
                scenario,
                subject,
                f"cpu_share: {name}",
                value,
                "%",
                note=f"py-spy, exclusive, of {spy.get('samples', 0) - spy.get('idle_samples', 0)}"
                " busy samples of the node, diagnosis run",
            )
        )
    return rows


def run_kefu(ctx: Context) -> Outcome:
    return run_kefu_bus(ctx, KEFU, "memory", MEMORY_TARGET)


def run_jetstream(ctx: Context) -> Outcome:
    return run_kefu_bus(ctx, JETSTREAM, "nats", JETSTREAM_TARGET)


if __name__ == "__main__":
    _child_main()
