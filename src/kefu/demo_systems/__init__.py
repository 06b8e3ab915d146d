"""Simulators of the department systems the customer 360 reads, for the demo, tests and bench.

- :mod:`kefu.demo_systems.dataset`: the deterministic demo dataset (customers, orders, calls).
- :mod:`kefu.demo_systems.callcenter`: the legacy call center, XML over HTTP (SOAP 1.1).
- :mod:`kefu.demo_systems.crm`: the marketing CRM as a REST/JSON service, and a loader
  for a MongoDB-compatible server (what production runs).
- :mod:`kefu.demo_systems.orders`: a loader for the orders tables in any SQL database.

This module holds what the HTTP simulators share: the latency / jitter / failure knobs,
request counters a test or benchmark can read to count fetches, and :func:`serve_app`.
Submodules are not re-exported here so that importing the package stays cheap and free of
import cycles; import from the submodule you need.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

__all__ = [
    "BEHAVIOUR",
    "Behaviour",
    "SimulatorStats",
    "requests_served",
    "serve_app",
    "simulator_stats",
]


@dataclass(slots=True)
class SimulatorStats:
    """What a simulator has served, so a test can assert "fetched once" or "in parallel".

    ``requests`` counts every request that reached a handler, failed ones included;
    ``peak_in_flight`` is the most requests handled at the same moment.
    """

    requests: int = 0
    failures: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


class Behaviour:
    """How slow and how unreliable a simulated system is, drawn from one seeded stream.

    Real department systems are neither fast nor always up; the 360's timeouts, partial
    results and parallelism can only be shown (and tested) against ones that are not.
    With a ``seed`` the sequence of delays and failures repeats from run to run.
    """

    def __init__(
        self,
        latency_ms: float = 0,
        jitter_ms: float = 0,
        failure_rate: float = 0,
        seed: int | None = None,
    ) -> None:
        if latency_ms < 0 or jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")
        if not 0 <= failure_rate <= 1:
            raise ValueError("failure_rate must be between 0 and 1")
        self.latency_ms = float(latency_ms)
        self.jitter_ms = float(jitter_ms)
        self.failure_rate = float(failure_rate)
        # Not for security: reproducible simulated latency and failures.
        self._rng = random.Random(seed)  # noqa: S311
        self.stats = SimulatorStats()

    def draw(self) -> tuple[float, bool]:
        """This request's delay in seconds and whether it fails.

        Drawn when the request arrives (not after the sleep) so that, with a seed, the
        n-th request always gets the same fate whatever the interleaving of the sleeps.
        """
        jitter = self._rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        fails = self.failure_rate > 0 and self._rng.random() < self.failure_rate
        return max(0.0, self.latency_ms + jitter) / 1000, fails

    @contextlib.asynccontextmanager
    async def handling(self) -> AsyncIterator[bool]:
        """Count the request, wait its latency, and yield whether it must fail."""
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        try:
            delay, fails = self.draw()
            if delay:
                await asyncio.sleep(delay)
            if fails:
                stats.failures += 1
            yield fails
        finally:
            stats.in_flight -= 1


BEHAVIOUR = web.AppKey("kefu_demo_behaviour", Behaviour)


def simulator_stats(app: web.Application) -> SimulatorStats:
    """The live counters of a simulator app built by ``callcenter_app`` or ``crm_app``."""
    return app[BEHAVIOUR].stats


def requests_served(app: web.Application) -> int:
    """How many requests the simulator has received so far (failed ones included)."""
    return app[BEHAVIOUR].stats.requests


@contextlib.asynccontextmanager
async def serve_app(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    access_log: bool = False,
) -> AsyncIterator[str]:
    """Serve ``app`` on a real socket and yield its base URL (``port=0``: any free port).

    Keep a reference to ``app`` to read its counters while it runs; the access log is off
    by default because benchmarks would otherwise measure logging.
    """
    runner = (
        web.AppRunner(app, handle_signals=False)
        if access_log
        else web.AppRunner(app, handle_signals=False, access_log=None)
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound = port
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                bound = int(address[1])
                break
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}"
    finally:
        await runner.cleanup()
