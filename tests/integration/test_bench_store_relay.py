"""``bench.stacks.aiohttp_store_relay``, the bare relay plus kefu's SQLite store, in its own
process as the bench starts it: each frame reaches the peer only once it is stored, in the
pair's one conversation, in order. No timing is asserted."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from bench.drivers.relay import RawPairs
from bench.procs import free_port, python_argv, running, start_server, wait_http_ready

FRAMES = 5


@pytest.fixture
def store_relay(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    data = tmp_path / "data"
    argv = python_argv("bench.stacks.aiohttp_store_relay", "--port", str(port), "--data", str(data))
    cpus = frozenset(os.sched_getaffinity(0))
    server = start_server("store-relay", argv, cpus=cpus, log_dir=tmp_path)
    with running(server):
        wait_http_ready(server, f"http://127.0.0.1:{port}/health")
        yield f"ws://127.0.0.1:{port}", data / "kefu.db"


def stored(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT conversation_id, sender_id, body FROM messages ORDER BY id"
        ).fetchall()


async def test_a_frame_reaches_the_peer_once_stored_in_the_pairs_conversation(
    store_relay: tuple[str, Path],
) -> None:
    ws_base, db = store_relay
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{ws_base}/ws?id=b0&peer=a0") as b,
        session.ws_connect(f"{ws_base}/ws?id=a0&peer=b0") as a,
    ):
        for n in range(FRAMES):
            await a.send_str(f"hello {n}")
            assert (await b.receive_str(timeout=30)) == f"hello {n}"
            # Forwarded only after the commit: the row is there the moment the peer has it.
            assert stored(db)[-1][1:] == ("a0", f"hello {n}")
        await b.send_str("back")
        assert (await a.receive_str(timeout=30)) == "back"

    rows = stored(db)
    assert [(sender, body) for _, sender, body in rows] == [
        *(("a0", f"hello {n}") for n in range(FRAMES)),
        ("b0", "back"),
    ]
    assert len({conversation for conversation, _, _ in rows}) == 1  # one per pair


async def test_the_load_generators_pairs_each_get_a_conversation(
    store_relay: tuple[str, Path],
) -> None:
    ws_base, db = store_relay
    target = RawPairs(ws_base, 4, concurrency=4)
    await target.open()
    await target.aclose()
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM conversations").fetchone()
    assert count == 4
