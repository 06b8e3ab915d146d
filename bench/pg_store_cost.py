"""PostgreSQL's cost of storing a chat message, by part: ``python -m bench.pg_store_cost``.

``bench.pg_commit`` measures the whole commit path at a rate. This holds the statement alone:
``write_batch_postgres`` called back to back, in batches of a fixed size, over 1,000
conversations. Each arm has its own fresh database, migrated by kefu, and the script reads
the CPU of that arm's backend from ``/proc``. Each arm leaves one part of the work out, so
the difference from ``full`` is that part's cost:

- ``full``: the statement as kefu runs it;
- ``nofk``: the two foreign keys dropped (messages -> conversations, message_search -> messages);
- ``nosearch``: no search document, so nothing is inserted into ``message_search``;
- ``notouch``: the statement without its ``touched`` part (the conversation's
  ``last_message_id`` and ``updated_at``);
- ``hot``: the touch kept, with the conversation indexes on ``updated_at`` or
  ``last_message_id`` dropped, so that the touch can be a HOT update;
- ``bare``: none of the touch, the search insert or the foreign keys.

Arms alternate round by round, and the order flips every round. The CPU figures use
``/proc``'s clock ticks (10 ms), so a round should cost a few hundred ms per arm at least.
Findings are in bench/README.md ("What limits it").

    python -m bench.pg_store_cost --arms full,notouch,bare --batch 20 --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.pg import DEFAULT_ADMIN_DSN, fresh_database
from kefu.domain.models import NewMessage, Sender, SenderKind
from kefu.domain.search_text import tsvector_literal
from kefu.store import postgres_batch
from kefu.store.database import Database
from kefu.store.repositories import Repositories

HZ = os.sysconf("SC_CLK_TCK")
BODY = "Hello, my order 12345 has not arrived yet, could you check it please?"
CONVERSATIONS = 1000
FULL_STATEMENT = postgres_batch._STORE
NO_TOUCH_STATEMENT = re.sub(r", touched AS \(.*?\n\)\n", "\n", FULL_STATEMENT, flags=re.S)
ARMS = ("full", "nofk", "nosearch", "notouch", "hot", "bare")


@dataclass
class Arm:
    name: str
    pg: Any
    backend_pid: int
    conversations: list[str]
    sent: int = 0

    @property
    def touches(self) -> bool:
        return self.name not in ("notouch", "bare")

    @property
    def indexes_search(self) -> bool:
        return self.name not in ("nosearch", "bare")


def backend_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def _no_document(body: str) -> str:
    return ""


async def open_arm(name: str, url: str) -> Arm:
    async with Database(url) as db:
        await db.migrate()
        repos = Repositories.over(db)
        now = datetime.now(UTC)
        conversations = []
        for _ in range(CONVERSATIONS):
            visitor = await repos.visitors.create(now=now)
            conversations.append((await repos.conversations.create(visitor.id, now)).id)
    pg = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    if name in ("nofk", "bare"):
        for table in ("messages", "message_search"):
            for row in await pg.fetch(
                "SELECT conname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                " WHERE t.relname = $1 AND c.contype = 'f'",
                table,
            ):
                await pg.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{row[0]}"')
    if name == "hot":
        for row in await pg.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'conversations'"
        ):
            if "last_message_id" in row[1] or "updated_at" in row[1]:
                await pg.execute(f'DROP INDEX "{row[0]}"')
    return Arm(name, pg, await pg.fetchval("SELECT pg_backend_pid()"), conversations)


async def measure(arm: Arm, batch_size: int, batches: int) -> tuple[float, float, float]:
    """PostgreSQL CPU, client CPU and wall time per message, in us, over ``batches``."""
    postgres_batch._STORE = FULL_STATEMENT if arm.touches else NO_TOUCH_STATEMENT
    postgres_batch.tsvector_literal = tsvector_literal if arm.indexes_search else _no_document
    sender = Sender(SenderKind.VISITOR, "vis_bench_cost", "Bench")
    pg0, client0, wall0 = backend_cpu_s(arm.backend_pid), time.process_time(), time.perf_counter()
    for _ in range(batches):
        batch = []
        for _ in range(batch_size):
            conversation = arm.conversations[(arm.sent * 7) % len(arm.conversations)]
            now = datetime.now(UTC)
            batch.append(NewMessage(conversation, sender, BODY, now, f"c{arm.sent}"))
            arm.sent += 1
        await postgres_batch.write_batch_postgres(arm.pg, batch)
    n = batch_size * batches
    return (
        (backend_cpu_s(arm.backend_pid) - pg0) * 1e6 / n,
        (time.process_time() - client0) * 1e6 / n,
        (time.perf_counter() - wall0) * 1e6 / n,
    )


async def run(args: argparse.Namespace, urls: dict[str, str]) -> None:
    arms = [await open_arm(name, urls[name]) for name in args.arms]
    for arm in arms:
        await measure(arm, args.batch, args.batches // 2)  # warm up: plans, caches
    for round_no in range(args.rounds):
        for arm in arms if round_no % 2 == 0 else reversed(arms):
            pg_us, client_us, wall_us = await measure(arm, args.batch, args.batches)
            print(
                f"round {round_no} {arm.name:9s} batch {args.batch}: postgresql {pg_us:6.1f}"
                f" us/msg  client {client_us:5.1f} us/msg  wall {wall_us:6.1f} us/msg",
                flush=True,
            )
    for arm in arms:
        await arm.pg.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default="full,nofk,nosearch,notouch,bare")
    parser.add_argument("--batch", type=int, default=20, help="messages per statement")
    parser.add_argument("--batches", type=int, default=200, help="statements per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--admin-dsn", default=DEFAULT_ADMIN_DSN)
    parser.add_argument(
        "--database-prefix", default="kefu_bench_store_cost", help="each arm's database: PREFIX_ARM"
    )
    args = parser.parse_args()
    args.arms = args.arms.split(",")
    unknown = sorted(set(args.arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arms {unknown}; known: {', '.join(ARMS)}")
    # fresh_database runs its own event loop, so every database is made before ours starts.
    urls = {
        name: fresh_database(args.admin_dsn, f"{args.database_prefix}_{name}") for name in args.arms
    }
    asyncio.run(run(args, urls))


if __name__ == "__main__":
    main()
