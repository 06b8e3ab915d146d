"""Visitor session creation (``POST /api/v1/visitors``) against ``kefu serve``: rate and
server CPU per creation, for one or more source trees side by side in the same minutes.

A flash sale opens many chats at once; this drives ``--count`` creations at
``--concurrency`` from one keep-alive client and reads the server's CPU seconds from
``/proc/<pid>/stat`` before and after. Rounds alternate between the trees so a busy
machine loads each alike: on a shared host compare the trees' ratios, not the figures.

    .venv/bin/python -m bench.visitor_sessions --tree before=/tmp/kefu-before/src \\
        --tree after=src --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from aiohttp import ClientSession, TCPConnector

from bench.kefu_proc import kefu_argv
from bench.pg import fresh_database
from bench.procs import free_port

TICKS = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 60.0
WARMUP = 200
PG_DATABASE = "kefu_bench_visitors"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"kefu exited {proc.returncode}")
            try:
                async with http.get(base + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("kefu did not become ready")


async def drive(base: str, count: int, concurrency: int) -> tuple[float, int]:
    """Wall seconds for ``count`` creations and how many failed (not 201)."""
    failed = 0

    async def worker(http: ClientSession, items: Iterator[int]) -> None:
        nonlocal failed
        for index in items:
            body = {"name": f"Visitor {index}", "page_url": "https://shop.example/sale"}
            async with http.post(base + "/api/v1/visitors", json=body) as resp:
                await resp.read()
                failed += resp.status != 201

    async with ClientSession(connector=TCPConnector(limit=concurrency)) as http:
        warm = iter(range(WARMUP))  # connections opened, first-request costs paid
        await asyncio.gather(*(worker(http, warm) for _ in range(concurrency)))
        failed = 0
        items = iter(range(count))
        started = time.perf_counter()
        await asyncio.gather(*(worker(http, items) for _ in range(concurrency)))
        return time.perf_counter() - started, failed


async def one_round(
    label: str, src: str, count: int, concurrency: int, postgres: bool
) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix=f"kefu-visitors-{label}-"))
    port = free_port()
    store = {}
    if postgres:  # a database of its own, fresh per server (others may bench beside us)
        store["KEFU_STORE"] = await asyncio.to_thread(fresh_database, name=PG_DATABASE)
    env = {
        **store,
        **os.environ,
        "PYTHONPATH": str(Path(src).resolve()),
        "KEFU_DATA_DIR": str(data),
        "KEFU_AUTH__VISITORS_PER_IP_PER_MINUTE": "1000000",
        "KEFU_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        kefu_argv("serve", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, proc)
        cpu0 = cpu_seconds(proc.pid)
        wall, failed = await drive(base, count, concurrency)
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    return {"rate": count / wall, "cpu_us": cpu / count * 1e6, "failed": failed}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="label=src dir")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, else SQLite")
    args = parser.parse_args()
    trees = [tuple(t.split("=", 1)) for t in args.tree]
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _ in trees}
    for _ in range(args.rounds):
        for label, src in trees:
            row = await one_round(label, src, args.count, args.concurrency, args.postgres)
            results[label].append(row)
            print(label, {k: round(v, 1) for k, v in row.items()}, flush=True)
    for label, rows in results.items():
        rate = statistics.median(r["rate"] for r in rows)
        cpu = statistics.median(r["cpu_us"] for r in rows)
        failed = sum(int(r["failed"]) for r in rows)
        print(f"{label}: median {rate:.0f} creations/s, {cpu:.0f} µs CPU each, {failed} failed")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
