"""``kefu serve --workers N``: N serving processes on one port, supervised by the parent.

One Python process uses one core. Rather than N containers, the parent starts N children
of the same interpreter (``python -m kefu.workers SLOT``), each a full node with its own
node id (``runner.serve(worker=SLOT)``), sharing the HTTP and gRPC ports through
SO_REUSEPORT so the kernel spreads connections among them. They cooperate exactly as
several nodes do, through PostgreSQL and NATS (docs/scaling.md), which is why the config
refuses workers on SQLite or ``bus: memory://``.

The parent first does, once, what the children would otherwise race for: it checks that
nothing listens on the ports yet (SO_REUSEPORT would let the workers silently join a
stale kefu's), creates the generated signing key if there is none, and migrates the store.
Then it supervises:

- A child that dies unexpectedly is logged and restarted after a short backoff. A worker
  dying more than ``MAX_RESTARTS`` times within ``RESTART_WINDOW_SECONDS`` is in a crash
  loop: every worker is stopped and the parent exits 1, so systemd or Kubernetes (whose
  own backoff and alerting are built for this) see it.
- SIGTERM or SIGINT goes to every child, which drains as a single node does; a second
  signal kills them at once. The parent exits 0 once every child has stopped cleanly.
- Metrics: the parent owns a fresh directory (removed on exit) that it names to every
  child in ``PROMETHEUS_MULTIPROC_DIR``, so ``/metrics`` on the shared port answers for
  the node whichever worker the kernel picks (``kefu.observability.multiprocess``). When
  it reaps a worker it drops that worker's live gauges; its counters stay counted.

Parent and child talk over the child's standard streams: the child reads its settings
(one JSON line, so every worker runs exactly what the parent validated) from stdin and
reports ``ready URL`` or ``error MESSAGE`` on stdout; its logs go to the shared stderr.
A child stops when its stdin reaches end of file, so a parent killed with SIGKILL
leaves no orphans serving.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TypeVar

from kefu.auth.secret import load_or_create_secret
from kefu.config import Settings, restore_settings, snapshot_settings
from kefu.errors import KefuError
from kefu.logging_setup import configure_logging
from kefu.node import Node
from kefu.observability.multiprocess import MULTIPROC_ENV, forget_process
from kefu.runner import run, serve
from kefu.store.database import Database
from kefu.store.private_files import secure_data_dir

# By name: run as ``python -m kefu.workers`` this module is ``__main__``.
log = logging.getLogger("kefu.workers")

# A worker that dies this often within the window is crash-looping (a dependency gone, a
# bug hit at every start); restarting it further only hides that from the operator.
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
# Doubles with each restart in the window: 0.5, 1, 2, 4, 8 s. Short enough that one
# crash costs its worker's clients a reconnect, long enough that a loop does not spin.
FIRST_RESTART_DELAY_SECONDS = 0.5
MAX_RESTART_DELAY_SECONDS = 8.0
# How long stopping children get to drain (5 s of HTTP grace, 5 s of gRPC grace, then the
# store) before they are killed; under systemd's default TimeoutStopSec of 90 s, and
# within the 30 s docs/operations.md asks for.
STOP_TIMEOUT_SECONDS = 25.0
# The settings line can carry many sources and rules; asyncio's default is 64 KiB.
SETTINGS_LINE_LIMIT = 16 * 1024 * 1024
# Exit statuses of a child stopped on purpose: it drained (0) or had not yet installed
# its signal handlers, as it starts, and SIGTERM's default action ended it.
CLEAN_STOPS = frozenset({0, -signal.SIGTERM})

_Stream = TypeVar("_Stream", asyncio.StreamReader, asyncio.StreamWriter)


@dataclass(frozen=True, slots=True)
class Stopped:
    """How supervision ended: the parent's exit status, and one line when it failed."""

    code: int
    problem: str | None = None


class RestartBudget:
    """When a crashed worker is restarted, and when restarting it is given up."""

    def __init__(
        self,
        *,
        limit: int = MAX_RESTARTS,
        window: float = RESTART_WINDOW_SECONDS,
        first_delay: float = FIRST_RESTART_DELAY_SECONDS,
        max_delay: float = MAX_RESTART_DELAY_SECONDS,
    ) -> None:
        self.limit = limit
        self.window = window
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._crashes: dict[int, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )

    def after_crash(self, slot: int, now: float) -> float | None:
        """Seconds to wait before restarting ``slot``, or None: it is crash-looping."""
        crashes = self._crashes[slot]
        crashes.append(now)
        while crashes and crashes[0] <= now - self.window:
            crashes.popleft()
        if len(crashes) > self.limit:
            return None
        return min(self._first_delay * 2.0 ** (len(crashes) - 1), self._max_delay)


def child_command(slot: int) -> list[str]:
    """The same interpreter and kefu, so a child runs exactly the parent's code."""
    return [sys.executable, "-m", "kefu.workers", str(slot)]


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    """Keeps ``settings.workers`` children serving until told to stop."""

    def __init__(
        self,
        settings: Settings,
        *,
        command: Callable[[int], Sequence[str]] = child_command,
        budget: RestartBudget | None = None,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        self._snapshot = (json.dumps(snapshot_settings(settings)) + "\n").encode()
        self._count = settings.workers
        self._command = command
        self._budget = budget or RestartBudget()
        self._stop_timeout = stop_timeout
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._ready: set[int] = set()
        self._url = ""
        self._all_ready = asyncio.Event()
        self._finished = asyncio.Event()
        self._outcome = Stopped(0)
        self._unclean: list[str] = []
        self._metrics_dir: Path | None = None

    async def run(self, on_ready: Callable[[str], Awaitable[None]]) -> Stopped:
        """Start every worker, call ``on_ready(url)`` once all serve, supervise until a
        signal (or a failure) ends it, then stop them all."""
        loop = asyncio.get_running_loop()
        # Fresh at every start: files of an earlier run would count its dead workers again.
        self._metrics_dir = Path(tempfile.mkdtemp(prefix="kefu-metrics-"))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        keepers = [asyncio.create_task(self._keep(slot)) for slot in self._slots()]
        try:
            started = asyncio.create_task(self._all_ready.wait())
            ended = asyncio.create_task(self._finished.wait())
            await asyncio.wait({started, ended}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if not self._finished.is_set():
                await on_ready(self._url)
            await ended
        finally:
            self._finish(Stopped(1, "supervision was interrupted"))  # no-op once finished
            await self._stop_all(keepers)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
        if self._outcome.code == 0 and self._unclean:
            return Stopped(1, "; ".join(self._unclean))
        return self._outcome

    def stop(self) -> None:
        """Stop every worker gracefully (what SIGTERM does)."""
        self._finish(Stopped(0))

    def _slots(self) -> range:
        return range(1, self._count + 1)

    def _on_signal(self) -> None:
        if not self._finished.is_set():
            log.info("stopping %d workers", len(self._children))
            self.stop()
            return
        log.warning("asked again: killing the workers without waiting for them to drain")
        for child in self._children.values():
            with contextlib.suppress(ProcessLookupError):
                child.kill()

    def _finish(self, outcome: Stopped) -> None:
        if self._finished.is_set():
            return
        self._outcome = outcome
        self._finished.set()
        for child in self._children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)

    async def _keep(self, slot: int) -> None:
        """Run worker ``slot``, and run it again whenever it dies while not stopping."""
        loop = asyncio.get_running_loop()
        started_once = False
        while not self._finished.is_set():
            try:
                child = await self._spawn(slot)
            except OSError as exc:  # out of processes or descriptors: nothing to retry
                self._finish(Stopped(1, f"cannot start worker {slot}: {exc}"))
                return
            ready, error = await self._watch(slot, child, started_once)
            code = await child.wait()
            del self._children[slot]
            self._forget_gauges(child.pid)
            started_once = started_once or ready
            if self._finished.is_set():
                if code not in CLEAN_STOPS:
                    self._unclean.append(f"worker {slot} {describe_exit(code)} while stopping")
                return
            why = error or describe_exit(code)
            if not started_once:
                # Never served: a problem of configuration or surroundings, not a crash.
                self._finish(Stopped(2, f"worker {slot} could not start: {why}"))
                return
            delay = self._budget.after_crash(slot, loop.time())
            if delay is None:
                self._finish(
                    Stopped(
                        1,
                        f"worker {slot} died more than {self._budget.limit} times within "
                        f"{self._budget.window:g} s (last: {why}); stopped every worker",
                    )
                )
                return
            log.error("worker %d (pid %d) %s; restarting it in %.1f s", slot, child.pid, why, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), delay)

    def _forget_gauges(self, pid: int) -> None:
        """Before a crashed worker's replacement starts, so its slot is never counted
        twice (``process_*{worker=…}``, sockets open)."""
        if self._metrics_dir is not None:
            forget_process(self._metrics_dir, pid)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self._metrics_dir is not None:  # replaces any the operator set: ours is fresh
            env[MULTIPROC_ENV] = str(self._metrics_dir)
        return env

    async def _spawn(self, slot: int) -> asyncio.subprocess.Process:
        child = await asyncio.create_subprocess_exec(
            *self._command(slot),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._child_env(),
        )
        self._children[slot] = child
        if self._finished.is_set():  # stopping began while it was being started
            child.send_signal(signal.SIGTERM)
        pipe = _pipe(child.stdin)
        pipe.write(self._snapshot)
        # The pipe stays open: its end of file tells the child that the parent is gone.
        with contextlib.suppress(ConnectionError):  # it died at once; _watch reports it
            await pipe.drain()
        return child

    async def _watch(
        self, slot: int, child: asyncio.subprocess.Process, again: bool
    ) -> tuple[bool, str | None]:
        """Read the child's reports until it closes stdout (exits): was it ever ready,
        and what error did it name."""
        ready, error = False, None
        async for raw in _pipe(child.stdout):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            kind, _, detail = line.partition(" ")
            if kind == "ready" and not ready:
                ready = True
                self._url = self._url or detail
                if again:
                    log.info("worker %d serves again (pid %d)", slot, child.pid)
                self._ready.add(slot)
                if len(self._ready) == self._count:
                    self._all_ready.set()
            elif kind == "error":
                error = detail
            else:
                log.info("worker %d: %s", slot, line)
        _pipe(child.stdin).close()
        return ready, error

    async def _stop_all(self, keepers: list[asyncio.Task[None]]) -> None:
        _, late = await asyncio.wait(keepers, timeout=self._stop_timeout)
        if late:
            for slot, child in list(self._children.items()):
                log.error(
                    "worker %d (pid %d) did not stop within %g s; killing it",
                    slot,
                    child.pid,
                    self._stop_timeout,
                )
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
        await asyncio.gather(*keepers)


def _pipe(stream: _Stream | None) -> _Stream:
    if stream is None:  # pragma: no cover - every child is started with both pipes
        raise RuntimeError("the worker's pipe is missing")
    return stream


def check_port_free(host: str, port: int, what: str) -> None:
    """Refuse a port something already listens on.

    Workers bind with SO_REUSEPORT, which would let them join a stale ``kefu serve
    --workers`` on the same port without a word; a plain bind (SO_REUSEADDR only, as the
    single node binds) fails on any listener.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in addresses:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                probe.bind(address)
    except OSError as exc:
        raise KefuError(f"cannot listen{what} on {host}:{port}: {exc.strerror}") from None


async def prepare(settings: Settings) -> list[str]:
    """What the parent does once before any child starts; returns migrations applied."""
    check_port_free(settings.host, settings.port, "")
    check_port_free(settings.host, settings.effective_grpc_port, " for gRPC")
    # Once here, so the children find nothing left to tighten (and log nothing).
    await asyncio.to_thread(secure_data_dir, settings.data_dir)
    load_or_create_secret(settings.data_dir, settings.auth.secret_key)
    async with Database(settings.store_url) as db:
        return await db.migrate()


async def serve_workers(settings: Settings, on_ready: Callable[[str], Awaitable[None]]) -> Stopped:
    """``kefu serve`` with ``workers`` > 1: prepare, then supervise until stopped."""
    applied = await prepare(settings)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return await Supervisor(settings).run(on_ready)


# -- the child ----------------------------------------------------------------------------


def main() -> None:
    """``python -m kefu.workers SLOT``: one worker, started by a ``Supervisor``."""
    # The parent turns Ctrl+C into SIGTERM for every child; until serve() installs its
    # handlers, a terminal's SIGINT would only print a KeyboardInterrupt traceback here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    slot = int(sys.argv[1])
    # Reports to the parent on a descriptor of their own; anything else printed to
    # stdout joins the log on stderr instead of the parent's pipe.
    status = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        run(_worker(slot, status))
    except KefuError as exc:
        _report(status, f"error {exc.message}")
        sys.exit(2)
    except OSError as exc:
        _report(status, f"error {exc.strerror or exc}")
        sys.exit(2)


async def _worker(slot: int, status: IO[str]) -> None:
    loop = asyncio.get_running_loop()
    parent = asyncio.StreamReader(limit=SETTINGS_LINE_LIMIT)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(parent), sys.stdin
    )
    settings = restore_settings(json.loads(await parent.readline()))
    configure_logging(settings.log_level, worker=slot)
    stop = asyncio.Event()

    async def orphaned() -> None:
        await parent.read()
        log.warning("the supervising kefu process is gone; stopping")
        stop.set()

    async def ready(_node: Node, url: str) -> None:
        _report(status, f"ready {url}")

    watch = asyncio.create_task(orphaned())
    try:
        await serve(settings, on_ready=ready, stop=stop, worker=slot)
    finally:
        watch.cancel()
        transport.close()


def _report(status: IO[str], line: str) -> None:
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        status.write(line.replace("\n", " ") + "\n")
        status.flush()


if __name__ == "__main__":
    main()
