"""``python -m bench.pg_store_cost`` as an operator runs it: a subprocess with its flags, on
the machine's PostgreSQL. Its figures are only as good as its arms, so this checks what
each arm left in its own database, and asserts no timing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from bench.pg import DEFAULT_ADMIN_DSN

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"kefu_test_store_cost_{os.getpid()}"
ARMS = ("full", "bare", "hot")


def store_cost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.pg_store_cost", "--database-prefix", PREFIX, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


async def _fetch(database: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(DEFAULT_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}")
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


def fetch(arm: str, query: str) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(f"{PREFIX}_{arm}", query))


@pytest.fixture
def dropped_afterwards() -> Iterator[None]:
    yield

    async def drop() -> None:
        conn = await asyncpg.connect(DEFAULT_ADMIN_DSN)
        try:
            for arm in ARMS:
                await conn.execute(f'DROP DATABASE IF EXISTS "{PREFIX}_{arm}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.mark.usefixtures("dropped_afterwards")
def test_each_arm_leaves_out_its_part_and_reports_every_round() -> None:
    done = store_cost(
        "--arms", ",".join(ARMS), "--batch", "5", "--batches", "4", "--rounds", "2"
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for round_no in (0, 1):
        for arm in ARMS:
            assert f"round {round_no} {arm:9s} batch 5: postgresql" in done.stdout

    # A warm-up of half a round (2 batches of 5), then 2 rounds of 4: 50 messages per arm.
    counts = "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM message_search)"
    touched = "SELECT count(*) FROM conversations WHERE last_message_id IS NOT NULL"
    foreign_keys = (
        "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
        " WHERE t.relname IN ('messages', 'message_search') AND c.contype = 'f'"
    )
    activity_indexes = (
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'conversations'"
        " AND (indexdef LIKE '%last_message_id%' OR indexdef LIKE '%updated_at%')"
    )
    assert tuple(fetch("full", counts)[0]) == (50, 50)
    assert fetch("full", touched)[0][0] == 50
    assert fetch("full", foreign_keys)[0][0] == 2
    assert fetch("full", activity_indexes)[0][0] == 3

    assert tuple(fetch("bare", counts)[0]) == (50, 0)
    assert fetch("bare", touched)[0][0] == 0
    assert fetch("bare", foreign_keys)[0][0] == 0

    assert tuple(fetch("hot", counts)[0]) == (50, 50)
    assert fetch("hot", touched)[0][0] == 50
    assert fetch("hot", activity_indexes)[0][0] == 0


def test_an_unknown_arm_is_refused_before_any_database_is_made() -> None:
    done = store_cost("--arms", "full,fast")
    assert done.returncode == 2
    assert "unknown arms ['fast']" in done.stderr
    found = asyncio.run(
        _fetch("test", f"SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'")
    )
    assert found == []
