"""Run a node until SIGINT/SIGTERM: bind, serve, then close sockets and drain the store."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from kefu.api.grpc.server import start_grpc
from kefu.bootstrap import running_node
from kefu.config import Settings
from kefu.errors import KefuError
from kefu.node import Node
from kefu.observability import multiprocess
from kefu.server import PARSER_LINE_BYTES, create_app
from kefu.web.parser_errors import JsonErrorAppRunner

log = logging.getLogger(__name__)

# Accept queue for bursts of reconnects after a deploy: thousands of sockets at once.
LISTEN_BACKLOG = 4096
# Time given to in-flight requests on shutdown before they are cut.
SHUTDOWN_GRACE_SECONDS = 5.0
# Names the worker process that answered (its pid), when several share the port.
WORKER_HEADER = "X-Kefu-Worker"

T = TypeVar("T")


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[Node, str], Awaitable[None]] | None = None,
    stop: asyncio.Event | None = None,
    worker: int | None = None,
) -> None:
    """Serve until ``stop`` is set or SIGINT/SIGTERM arrives.

    ``worker``: this process is worker number ``worker`` of several ``kefu serve
    --workers`` processes (``kefu.workers``). They share the HTTP and gRPC ports
    (SO_REUSEPORT: the kernel spreads connections), skip migrations (the parent ran them
    once), name themselves in every response's ``X-Kefu-Worker`` header so an operator
    can tell them apart, and copy their process metrics into the files the parent gave
    them (``kefu.observability.multiprocess``) so any one of them answers a scrape for all.
    """
    stop = stop or asyncio.Event()
    starting = _Starting(asyncio.current_task())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, starting.signalled, stop)
    try:
        async with (
            running_node(settings, migrate=worker is None) as node,
            _shared_metrics(node, worker),
        ):
            starting.done()
            await _serve_node(node, settings, on_ready, stop, worker)
    except (KefuError, OSError) as exc:
        if not starting.active or not stop.is_set():
            raise
        # Stopped while starting, and the start then failed (NATS or the store out of
        # reach, say): the process stops as it was asked to, not with a start-up error.
        log.warning("stopped before the node was up (%s)", getattr(exc, "message", exc))
    except asyncio.CancelledError:
        if not starting.cancelled_it():
            raise
        log.warning("stopped before the node was up")


class _Starting:
    """A signal during start-up cancels the start-up: an operator's SIGTERM is obeyed at
    once, not after a connect to an unreachable NATS or database has timed out (two 5 s
    connects measured). The node's resources opened so far close on the way out. After
    start-up a signal only sets ``stop``: the node then drains as usual."""

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self._task = task
        self.active = True
        self._cancelled = False

    def done(self) -> None:
        self.active = False

    def signalled(self, stop: asyncio.Event) -> None:
        stop.set()
        if self.active and self._task is not None and not self._cancelled:
            self._cancelled = True
            self._task.cancel()

    def cancelled_it(self) -> bool:
        """True when the cancellation being handled is this signal's (it is then taken
        back, so the process goes on to a clean exit)."""
        if not self._cancelled or self._task is None:
            return False
        return self._task.uncancel() == 0


async def _serve_node(
    node: Node,
    settings: Settings,
    on_ready: Callable[[Node, str], Awaitable[None]] | None,
    stop: asyncio.Event,
    worker: int | None,
) -> None:
    """Serve HTTP and gRPC on a started node until ``stop``; both closed on the way out."""
    app = create_app(node)
    if worker is not None:
        app.on_response_prepare.append(_name_worker)
    runner = JsonErrorAppRunner(
        app,
        line_limit=PARSER_LINE_BYTES,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(
        runner,
        settings.host,
        settings.port,
        backlog=LISTEN_BACKLOG,
        reuse_address=True,
        reuse_port=True if worker is not None else None,
    )
    await site.start()
    try:
        grpc_server, grpc_port = await start_grpc(
            node, settings.host, settings.effective_grpc_port, reuse_port=worker is not None
        )
    except BaseException:
        await runner.cleanup()
        raise
    tune_gc()
    url = f"http://{settings.host}:{_bound_port(runner, settings.port)}"
    log.info("kefu listening on %s (gRPC on port %d)", url, grpc_port)
    try:
        if on_ready is not None:
            await on_ready(node, url)
        await stop.wait()
    finally:
        await grpc_server.stop(SHUTDOWN_GRACE_SECONDS)
        await runner.cleanup()


def _shared_metrics(
    node: Node, worker: int | None
) -> contextlib.AbstractAsyncContextManager[object]:
    """Under a supervisor's shared metrics directory, the sampler that puts this
    process's share into it; nothing in a single process, whose registry answers alone."""
    if multiprocess.shared_dir() is None:
        return contextlib.nullcontext()
    return multiprocess.WorkerSampler(worker, lambda: node.writer.backlog)


async def _name_worker(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers[WORKER_HEADER] = str(os.getpid())


def tune_gc() -> None:
    """Fewer, cheaper garbage collections on the hot path.

    Everything built at start (settings, engine, routes, compiled statements) is frozen
    out of the collector's view, and the young generation is collected every 20,000
    allocations instead of 700: chat traffic allocates many small objects (frames,
    futures, records) that die young, and with the default threshold the collector took
    ~7% of the event loop under load (py-spy, bench/README.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop where available: ~2x the asyncio loop's socket throughput."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
