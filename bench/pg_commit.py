"""kefu's PostgreSQL commit path alone: ``python -m bench.pg_commit``.

The relay scenario measures the whole node; this holds the ``MessageWriter`` and its
PostgreSQL committers in one process and offers ``append`` calls at a constant rate
(open loop: each message is due at its time whether or not earlier ones are acked) over
1,000 conversations, for each number of committers (``store_write_lanes``) in turn, back
to back on the same database. Per step: acks per second, ack latency p99 from the
message's due time, the process's CPU per message and PostgreSQL's (the writer's
backends, from ``/proc``). ``--loop-work-us`` burns that much CPU on the event loop per
message, as a node's frame handling does, so a commit's answer waits for the loop as it
does in a busy node.

    python -m bench.pg_commit --rates 3000,5000,8000,10000 --lanes 1,2,3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.pg import DEFAULT_ADMIN_DSN, fresh_database
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.store.database import Database
from kefu.store.messages import MessageWriter
from kefu.store.postgres_batch import PostgresCommitter
from kefu.store.repositories import Repositories

HZ = os.sysconf("SC_CLK_TCK")
TICK_S = 0.001
DATABASE = "kefu_bench_pg_commit"
BODY = "Hello, my order 12345 has not arrived yet, could you check it please?"


async def backend_cpu(admin_dsn: str, database: str) -> float:
    """CPU seconds used so far by every backend connected to ``database``."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        pids = [r[0] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
        )]  # fmt: skip
    finally:
        await conn.close()
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / HZ
    return total


def burn(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def step(
    writer: MessageWriter, conversations: list[str], rate: float, seconds: float, work_us: float
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
        # Every message due by now is offered, then the loop runs until the next tick.
        now = time.perf_counter()
        while n < total and start + n / rate <= now:
            burn(work_us)
            tasks.append(asyncio.create_task(one(n, start + n / rate)))
            n += 1
        await asyncio.sleep(max(0.0, min(TICK_S, start + n / rate - time.perf_counter())))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None
    return {"acked": len(latencies), "failed": failed, "elapsed": elapsed, "p99_ms": p99}


async def run(args: argparse.Namespace, url: str) -> None:
    database = DATABASE
    async with Database(url) as db:
        await db.migrate()
        repos = Repositories.over(db)
        now = datetime.now(UTC)
        conversations = []
        for _ in range(args.conversations):
            visitor = await repos.visitors.create(now=now)
            conversations.append((await repos.conversations.create(visitor.id, now)).id)
        for lanes in args.lanes:
            committers = [PostgresCommitter(db) for _ in range(lanes)]
            async with MessageWriter(committers) as writer:
                await step(writer, conversations, 500, 1.0, 0)  # connect, warm up
                for rate in args.rates:
                    cpu0, pg0 = time.process_time(), await backend_cpu(args.admin_dsn, database)
                    batches0 = writer.batches
                    got = await step(writer, conversations, rate, args.seconds, args.loop_work_us)
                    cpu = time.process_time() - cpu0
                    pg = await backend_cpu(args.admin_dsn, database) - pg0
                    n = got["acked"] or 1
                    acked_per_s = got["acked"] / got["elapsed"]
                    print(
                        f"lanes {lanes} rate {rate:6.0f}: acked {acked_per_s:7.0f}/s"
                        f" p99 {got['p99_ms'] or 0:7.1f} ms failed {got['failed']}"
                        f" batch {n / max(1, writer.batches - batches0):5.1f}"
                        f" client {cpu * 1e6 / n:5.0f} us/msg pg {pg * 1e6 / n:5.0f} us/msg",
                        flush=True,
                    )
            for committer in committers:
                await committer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="3000,5000,8000,10000")
    parser.add_argument("--lanes", default="1,2,3")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--loop-work-us", type=float, default=60.0)
    parser.add_argument("--admin-dsn", default=DEFAULT_ADMIN_DSN)
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    args.lanes = [int(n) for n in args.lanes.split(",")]
    asyncio.run(run(args, fresh_database(args.admin_dsn, DATABASE)))


if __name__ == "__main__":
    main()
