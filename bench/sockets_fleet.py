"""A load generator spread over several processes, driven step by step by one parent.

One process may hold at most 20,000 open files here, so 50,000 sockets need at least
three generator processes; the parent measures the server between the steps (RSS before
and after the sockets open, after the hold) and so needs every process to finish a step
before the next one begins. Each child (``python -m bench.sockets_fleet``) reads its job
as one JSON line, then one command per line, and answers each with one JSON line:

- ``create``: ``count`` visitor sessions over ``POST /api/v1/visitors`` (keep-alive
  clients spread over the loopback source addresses, ``concurrency`` in flight), each
  timed; the tokens are kept for ``open``. Failures are counted by kind, never retried:
  a flash sale's browser that got an error shows the visitor an error.
- ``warm``: a few sockets opened and closed, so one-off costs are not charged to the
  measured ones.
- ``open``: one picows socket per visitor created (``/ws?token=``); they answer the
  server's pings by themselves (picows' auto-pong) and otherwise stay idle.
- ``check``: how many are still open, and how the others ended.
- ``close``: close them all; the child exits after answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp
import uvloop

from bench.drivers.kefu import ws_url
from bench.fastws import FastGroup
from bench.procs import raise_nofile
from bench.wsclient import DEFAULT_SOURCES, REQUEST_TIMEOUT_S

Job = dict[str, Any]
WARM_SOCKETS = 20


def _ignore(_payload: bytes) -> bytes | None:
    return None


class Fleet:
    """One child's share: its visitors, their tokens, their sockets."""

    def __init__(self, job: Job) -> None:
        self.base: str = job["http_base"]
        self.count = int(job["count"])
        self.concurrency = int(job.get("concurrency", 32))
        self.sources: Sequence[str] = job.get("sources") or DEFAULT_SOURCES
        self.tokens: list[str] = []
        self.group = FastGroup(self.sources)

    async def create(self) -> dict[str, Any]:
        """``count`` sessions as fast as the server answers; per-creation latency kept."""
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(local_addr=(ip, 0), limit=0), timeout=timeout
            )
            for ip in self.sources
        ]
        failures: Counter[str] = Counter()
        latencies: list[float] = []
        items = iter(range(self.count))

        async def worker(lane: int) -> None:
            http = sessions[lane % len(sessions)]
            for i in items:
                body = {"name": f"Visitor {i}", "page_url": "https://shop.example/sale"}
                started = time.perf_counter()
                try:
                    async with http.post(self.base + "/api/v1/visitors", json=body) as resp:
                        data = await resp.read()
                        if resp.status != 201:
                            failures[f"http {resp.status}"] += 1
                            continue
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                self.tokens.append(json.loads(data)["token"])

        t0 = time.time()
        try:
            await asyncio.gather(*(worker(lane) for lane in range(self.concurrency)))
        finally:
            t1 = time.time()
            for http in sessions:
                await http.close()
        latencies.sort()
        return {
            "created": len(self.tokens),
            "failed": sum(failures.values()),
            "failures": dict(failures),
            "t0": t0,
            "t1": t1,
            "latencies_ms": _percentiles(latencies),
        }

    async def warm(self) -> dict[str, Any]:
        warm = FastGroup(self.sources)
        urls = [ws_url(self.base, t) for t in self.tokens[:WARM_SOCKETS]]
        await warm.open_many(urls, _ignore, self.concurrency)
        await asyncio.sleep(0.5)
        await warm.aclose()
        return {"warmed": len(urls)}

    async def open(self) -> dict[str, Any]:
        urls = [ws_url(self.base, t) for t in self.tokens]
        started = time.monotonic()
        failures: Counter[str] = Counter()
        sem = asyncio.Semaphore(self.concurrency)

        async def one(i: int) -> None:
            async with sem:
                try:
                    await self.group.connect(urls[i], i, _ignore)
                except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
                    failures[type(exc).__name__] += 1

        await asyncio.gather(*(one(i) for i in range(len(urls))))
        return {
            "opened": len(self.group.sockets),
            "failed": sum(failures.values()),
            "failures": dict(failures),
            "connect_s": round(time.monotonic() - started, 2),
        }

    def check(self) -> dict[str, Any]:
        return {"open": self.group.open_count(), "ended": dict(self.group.close_codes)}

    async def close(self) -> dict[str, Any]:
        await self.group.aclose()
        return {"closed": True}


def _percentiles(sorted_s: list[float]) -> dict[str, float | None]:
    def at(q: float) -> float | None:
        if not sorted_s:
            return None
        return round(sorted_s[min(len(sorted_s) - 1, int(q * len(sorted_s)))] * 1000, 2)

    return {"p50": at(0.50), "p99": at(0.99), "max": at(1.0)}


async def _serve(reader: asyncio.StreamReader) -> None:
    fleet = Fleet(json.loads(await reader.readline()))
    while line := (await reader.readline()).decode().strip():
        try:
            if line == "create":
                answer = await fleet.create()
            elif line == "warm":
                answer = await fleet.warm()
            elif line == "open":
                answer = await fleet.open()
            elif line == "check":
                answer = fleet.check()
            elif line == "close":
                _say(await fleet.close())
                return
            else:
                answer = {"error": f"unknown command {line!r}"}
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        _say(answer)
    await fleet.close()  # the parent went away


def _say(answer: dict[str, Any]) -> None:
    print(json.dumps(answer), flush=True)


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await _serve(reader)


def main() -> None:
    raise_nofile()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_main())


if __name__ == "__main__":
    main()


# -- the parent ---------------------------------------------------------------------------

# Sockets one generator process holds at most: under the 20,000 open files a process may
# have here, with room for its HTTP clients and the interpreter's own files.
SOCKETS_PER_PROCESS = 15_000


class FleetParent:
    """Starts the children, hands each its share, and runs every command on all of them
    at once: a command returns when every child has answered it."""

    def __init__(self, http_base: str, total: int, processes: int, concurrency: int) -> None:
        shares = [total // processes + (i < total % processes) for i in range(processes)]
        self._children: list[subprocess.Popen[bytes]] = []
        cores = os.sched_getaffinity(0) | set(range(os.cpu_count() or 1))
        for i, share in enumerate(shares):
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.sockets_fleet"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                preexec_fn=lambda: os.sched_setaffinity(0, cores),
                start_new_session=True,
            )
            job = {"http_base": http_base, "count": share, "concurrency": concurrency, "index": i}
            self._send(child, json.dumps(job))
            self._children.append(child)

    @staticmethod
    def _send(child: subprocess.Popen[bytes], line: str) -> None:
        assert child.stdin is not None
        child.stdin.write(line.encode() + b"\n")
        child.stdin.flush()

    def command(self, name: str, timeout_s: float) -> list[dict[str, Any]]:
        """Run ``name`` on every child; their answers in order. Raises when one fails,
        or does not answer within ``timeout_s`` (then every child is killed)."""
        for child in self._children:
            self._send(child, name)
        deadline = time.monotonic() + timeout_s
        answers = []
        for child in self._children:
            assert child.stdout is not None
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([child.stdout], [], [], left)
            line = child.stdout.readline() if ready else b""
            if not line:
                self.kill()
                raise RuntimeError(f"a generator gave no answer to {name!r} in {timeout_s:.0f}s")
            answer: dict[str, Any] = json.loads(line)
            if "error" in answer:
                self.kill()
                raise RuntimeError(f"a generator failed {name!r}: {answer['error']}")
            answers.append(answer)
        return answers

    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def close(self, timeout_s: float = 60.0) -> None:
        with contextlib.suppress(RuntimeError):
            self.command("close", timeout_s)
        for child in self._children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=10)
        self.kill()

    def kill(self) -> None:
        for child in self._children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            for pipe in (child.stdin, child.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):  # a broken pipe to a killed child
                        pipe.close()
