"""Simulators of the department systems the customer 360 reads, for the demo, tests and bench.

- :mod:`kefu.demo_systems.dataset`: the deterministic demo dataset (customers, orders, calls).
- :mod:`kefu.demo_systems.callcenter`: the legacy call center, XML over HTTP (SOAP 1.1).
- :mod:`kefu.demo_systems.crm`: the marketing CRM as a REST/JSON service, and a loader
  for a MongoDB-compatible server (what production runs).
- :mod:`kefu.demo_systems.orders`: a loader for the orders tables in any SQL database.

This module holds what the HTTP simulators share: the latency / jitter / failure knobs,
request counters a test or benchmark can read to count fetches, and :func:`serve_app`.
The write side (sagas' actions: refunds, points, notes) adds idempotency-key ledgers and
write failure knobs (:mod:`kefu.demo_systems.writes`).
Submodules are not re-exported here so that importing the package stays cheap and free of
import cycles; import from the submodule you need.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

__all__ = [
    "BEHAVIOUR",
    "Behaviour",
    "SimulatorStats",
    "WriteStats",
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


@dataclass(slots=True)
class WriteStats:
    """What a simulator's write endpoints did, so a test or the bench can prove
    "applied once": ``applied[key]`` counts the times the write with that idempotency key
    changed the system's records (more than 1 is a bug a saga must never cause).

    ``writes`` counts write requests, ``replays`` those answered from the ledger (the key
    was seen before), ``failed`` those refused by a failure knob (nothing applied),
    ``lost_replies`` those applied and then answered 500 as if the reply was lost, and
    ``held`` the replies waiting on the hold gate right now.
    """

    writes: int = 0
    replays: int = 0
    failed: int = 0
    lost_replies: int = 0
    held: int = 0
    applied: Counter[str] = field(default_factory=Counter)

    def applied_more_than_once(self) -> int:
        """How many keys were applied twice or more (0 unless something is wrong)."""
        return sum(1 for count in self.applied.values() if count > 1)

    def as_json(self) -> dict[str, int]:
        return {
            "writes": self.writes,
            "replays": self.replays,
            "failed": self.failed,
            "lost_replies": self.lost_replies,
            "held": self.held,
            "applied_keys": len(self.applied),
            "applied_total": sum(self.applied.values()),
            "applied_more_than_once": self.applied_more_than_once(),
        }


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
        # The write knobs (sagas): see ``set_write_knobs``.
        self.fail_next_writes = 0
        self.write_failure_rate = 0.0
        self.lose_next_replies = 0
        self.hold_next_replies = 0
        self._release = asyncio.Event()
        self.writes = WriteStats()

    def set_write_knobs(
        self,
        *,
        fail_next_writes: int | None = None,
        write_failure_rate: float | None = None,
        lose_next_replies: int | None = None,
        hold_next_replies: int | None = None,
    ) -> None:
        """Change how the write endpoints misbehave (``None`` leaves a knob as it is).

        ``fail_next_writes``: the next N writes answer 503 and apply nothing.
        ``write_failure_rate``: that share of writes (drawn from the seed) do the same.
        ``lose_next_replies``: the next N writes that apply answer 500 anyway, as if the
        reply was lost on the way: the caller must retry with the same key.
        ``hold_next_replies``: the next N writes that apply wait, with the change made,
        until ``release_replies``: a test kills kefu between the system's change and
        kefu's record of it.
        """
        for name, count in (
            ("fail_next_writes", fail_next_writes),
            ("lose_next_replies", lose_next_replies),
            ("hold_next_replies", hold_next_replies),
        ):
            if count is not None:
                if count < 0:
                    raise ValueError(f"{name} must be >= 0")
                setattr(self, name, int(count))
        if write_failure_rate is not None:
            if not 0 <= write_failure_rate <= 1:
                raise ValueError("write_failure_rate must be between 0 and 1")
            self.write_failure_rate = float(write_failure_rate)
        if hold_next_replies and self._release.is_set():
            # A new gate; replies still held (none once released) keep the one they wait on.
            self._release = asyncio.Event()

    def release_replies(self) -> None:
        """Let every held reply go (and hold no more)."""
        self.hold_next_replies = 0
        self._release.set()

    def write_fails(self) -> bool:
        """Whether this write must fail by a write knob (consumes ``fail_next_writes``)."""
        if self.fail_next_writes > 0:
            self.fail_next_writes -= 1
            return True
        rate = self.write_failure_rate
        return rate > 0 and self._rng.random() < rate

    async def after_apply(self) -> bool:
        """Hold the reply when asked to; then whether to lose it (answer 500)."""
        if self.hold_next_replies > 0:
            self.hold_next_replies -= 1
            release = self._release
            self.writes.held += 1
            try:
                await release.wait()
            finally:
                self.writes.held -= 1
        if self.lose_next_replies > 0:
            self.lose_next_replies -= 1
            self.writes.lost_replies += 1
            return True
        return False

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
