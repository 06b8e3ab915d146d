"""kefu's SQLite commit path alone: ``python -m bench.sqlite_commit``.

``bench.pg_commit``'s twin for SQLite: one process holds ``SqliteMessageWriter`` (the
writer thread takes the batches itself) over a fresh database file and offers ``append``
calls at a constant rate on uvloop (open loop: each message is due at its time whether
or not earlier ones are acked) over 200 conversations. ``--loop-work-us`` burns that much
Python on the event loop per message, holding the GIL as a node's frame handling does,
so the writer thread competes for the GIL as it does in a busy node. Run it pinned to
one core (``taskset -c 1``) as the relay bench pins the server.

Per step: ack latency p99 from the due time, the process's CPU per message, and commits
over 5 and 20 ms (wall time of ``BEGIN`` .. ``COMMIT`` on the writer thread; with
``synchronous=NORMAL`` a commit does not fsync, so a long one waited for the GIL or the
CPU). ``--switch-intervals`` tries each ``sys.setswitchinterval`` in turn, alternating.

    taskset -c 1 python -m bench.sqlite_commit --rates 3000,5000 --switch-intervals 0.005,0.0005

``--cost`` measures instead what a batch costs on one thread, no loop and no hand-off:
``write_batch_sqlite`` in ``BEGIN IMMEDIATE`` .. ``COMMIT`` as the writer thread runs it
(and the search index's catch-ups, since it is filled behind the commit),
for each ``--batch-sizes``, as process CPU per message (best of four rounds of 6,000
messages after 20,000 stored), and the least-squares split of that into a cost per
message and a cost per commit. CPU time, not latency: it holds on a busy machine.

    taskset -c 1 python -m bench.sqlite_commit --cost --batch-sizes 1,5,15,40,100

On a noisy host, count instructions instead: run ``--cost`` under ``valgrind
--tool=callgrind`` twice, with ``--cost-messages`` 1,000 and 3,000 (one round, batch 20,
a small warm-up); the difference of the two totals over 2,000 is the instructions one
message costs, the same on a quiet or a busy machine (bench/README.md, "Search off the
commit").
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from sqlalchemy import create_engine, event

from bench.pg_commit import BODY, burn
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.observability import metrics
from kefu.store.database import Database, _sqlite_pragmas
from kefu.store.repositories import Repositories
from kefu.store.sqlite_batch import write_batch_sqlite

try:
    from kefu.store.sqlite_transaction import in_transaction
except ImportError:  # a tree before 0bc0d7e (A/Bs run older trees through PYTHONPATH)
    from kefu.store.database import in_transaction  # type: ignore[attr-defined,no-redef]
from kefu.store.sqlite_writer import SqliteMessageWriter

TICK_S = 0.001


def commit_tail() -> tuple[float, float, float]:
    """(commits, over 5 ms, over 20 ms) so far, from kefu's commit-time histogram."""
    buckets: dict[float, float] = {}
    count = 0.0
    for family in metrics.STORE_COMMIT.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    return count, count - buckets.get(0.005, count), count - buckets.get(0.02, count)


async def step(
    writer: SqliteMessageWriter, conversations: list[str], rate: float, seconds: float, work: float
) -> dict[str, Any]:
    latencies: list[float] = []
    failed = 0
    sender = Sender(SenderKind.VISITOR, f"vis_bench_{os.urandom(4).hex()}", "Bench")
    total = int(rate * seconds)

    async def one(n: int, due: float) -> None:
        nonlocal failed
        new = NewMessage(
            conversations[n % len(conversations)], sender, BODY, datetime.now(UTC), f"c{n}"
        )
        try:
            await writer.append(new)
        except Exception:
            failed += 1
            return
        latencies.append(time.perf_counter() - due)

    tasks = []
    start = time.perf_counter()
    n = 0
    while n < total:
        now = time.perf_counter()
        while n < total and start + n / rate <= now:
            burn(work)
            tasks.append(asyncio.create_task(one(n, start + n / rate)))
            n += 1
        # A whole tick, not the time to the next message: uvloop's timers have 1 ms
        # resolution, so a shorter sleep returns at once and the loop would spin (its CPU
        # counted as the writer's).
        await asyncio.sleep(TICK_S)
    await asyncio.gather(*tasks)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None
    return {"acked": len(latencies), "failed": failed, "p99_ms": p99}


async def run(args: argparse.Namespace, path: Path) -> None:
    async with Database(f"sqlite+aiosqlite:///{path}") as db:
        await db.migrate()
        repos = Repositories.over(db)
        now = datetime.now(UTC)
        conversations = []
        for _ in range(args.conversations):
            visitor = await repos.visitors.create(now=now)
            conversations.append((await repos.conversations.create(visitor.id, now)).id)
        if args.cost:
            cost(
                path,
                conversations,
                args.batch_sizes,
                warmup=args.cost_warmup,
                messages=args.cost_messages,
                rounds=args.cost_rounds,
            )
            return
        for _ in range(args.rounds):
            for rate in args.rates:
                for interval in args.switch_intervals:
                    sys.setswitchinterval(interval)
                    async with SqliteMessageWriter(db) as writer:
                        await step(writer, conversations, 500, 0.5, 0)  # warm up
                        load = os.getloadavg()[0]
                        cpu0, tail0 = time.process_time(), commit_tail()
                        batches0 = writer.batches
                        got = await step(writer, conversations, rate, args.seconds, args.work)
                        cpu = time.process_time() - cpu0
                        tail = [b - a for a, b in zip(tail0, commit_tail(), strict=True)]
                    n = got["acked"] or 1
                    print(
                        f"{time.strftime('%H:%M:%S', time.gmtime())} load {load:4.1f}"
                        f" switch {interval * 1000:4.1f} ms rate {rate:6.0f}:"
                        f" p99 {got['p99_ms'] or 0:7.1f} ms failed {got['failed']}"
                        f" batch {n / max(1, writer.batches - batches0):5.1f}"
                        f" cpu {cpu * 1e6 / n:5.0f} us/msg commits {tail[0]:.0f}"
                        f" >5ms {tail[1]:.0f} >20ms {tail[2]:.0f}",
                        flush=True,
                    )


def _indexer() -> Any:
    """Since 0bc0d7e the search index is filled behind the commit, in batches of its own
    (kefu.store.search_indexer): its share is counted here too, so trees compare."""
    try:
        from kefu.store.search_indexer import SqliteSearchIndexer
    except ImportError:  # an older tree: write_batch_sqlite indexes in the commit
        return None
    return SqliteSearchIndexer(lambda job: None)


def cost(
    path: Path,
    conversations: list[str],
    sizes: list[int],
    *,
    warmup: int = 20_000,
    messages: int = 6_000,
    rounds: int = 4,
) -> None:
    """CPU per message of ``write_batch_sqlite`` per batch size, on this thread."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"isolation_level": None})
    event.listen(engine, "connect", _sqlite_pragmas)
    senders = [Sender(SenderKind.VISITOR, f"vis_cost_{n}", "Bench") for n in range(200)]
    count = 0
    indexer = _indexer()

    def store(conn: Any, messages: int, size: int) -> None:
        nonlocal count
        for _ in range(messages // size):
            batch = []
            for _ in range(size):
                count += 1
                conversation = conversations[count % len(conversations)]
                sender = senders[count % len(senders)]
                batch.append(NewMessage(conversation, sender, BODY, datetime.now(UTC), f"c{count}"))
            stored = in_transaction(conn, functools.partial(write_batch_sqlite, batch=batch))
            if indexer is not None:  # the search index, as the writer thread fills it
                indexer.committed(min(m.id for m, _ in stored), len(stored))
                indexer.after_commit(conn)

    with engine.connect() as conn:
        store(conn, warmup, 100)
        found = []
        for size in sizes:
            taken = []
            for _ in range(rounds):
                cpu0 = time.process_time()
                store(conn, messages, size)
                taken.append((time.process_time() - cpu0) / messages * 1e6)
            found.append((size, min(taken)))
            print(
                f"{time.strftime('%H:%M:%S', time.gmtime())} load {os.getloadavg()[0]:4.1f}"
                f" batch {size:4d}: cpu {min(taken):6.1f} us/msg"
                f" (rounds {' '.join(f'{r:.1f}' for r in taken)})",
                flush=True,
            )
    engine.dispose()
    # us/msg = per_message + per_commit / size, fitted by least squares in 1/size.
    xs = [1 / size for size, _ in found]
    ys = [us for _, us in found]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx > 0:
        per_commit = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        print(f"fit: {my - per_commit * mx:.1f} us per message + {per_commit:.0f} us per commit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="3000,5000")
    parser.add_argument("--switch-intervals", default=str(sys.getswitchinterval()))
    parser.add_argument("--cost", action="store_true", help="CPU per batch size, one thread")
    parser.add_argument("--batch-sizes", default="1,5,15,40,100")
    parser.add_argument("--cost-warmup", type=int, default=20_000, help="messages stored first")
    parser.add_argument("--cost-messages", type=int, default=6_000, help="per round")
    parser.add_argument("--cost-rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--loop-work-us", dest="work", type=float, default=60.0)
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    args.switch_intervals = [float(s) for s in args.switch_intervals.split(",")]
    args.batch_sizes = [int(n) for n in args.batch_sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="kefu-sqlite-commit-") as tmp:
        uvloop.run(run(args, Path(tmp) / "kefu.db"))


if __name__ == "__main__":
    main()
