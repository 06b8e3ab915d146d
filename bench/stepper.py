"""Rate stepping: offer a fixed message rate for a few seconds, measure, go up, stop at failure.

Each step is open-loop (see :mod:`bench.latency`) and bounded: ``step_s`` of sending plus
at most ``grace_s`` waiting for stragglers. A step passes when its delivery p99 is within
the limit and at most ``max_loss`` of its messages were lost; stepping stops at the first
failing step, so an overloaded server is never pushed for long.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from bench.drivers.base import RelayTarget
from bench.latency import Probe, summarize
from bench.procs import cpu_seconds

# Messages sent back to back before yielding to the receivers: bounds the client's own
# added latency when it is behind schedule, while keeping per-tick overhead low.
MAX_BURST = 64
# Delay between creating a step's probes and its first due message.
START_DELAY_S = 0.05
# Shortest sleep between bursts: the event loop's timers have ~1 ms resolution, and
# shorter sleeps turn into a busy loop that burns the generator's core. Sending what fell
# due in the last millisecond as one burst adds at most 1 ms, which the latency shows.
TICK_S = 0.001


class StepObserver(Protocol):
    """Something measured around each step on the server side (e.g. kefu's loop lag)."""

    async def before(self) -> None: ...

    async def after(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class StepPlan:
    rates: list[float]
    step_s: float
    grace_s: float
    p99_limit_ms: float
    max_loss: float = 0.001
    warmup_rate: float = 200.0
    warmup_s: float = 1.0
    pause_s: float = 1.0


class Stepper:
    """Runs a :class:`StepPlan` against a target; the server's pid gives its CPU share."""

    def __init__(self, target: RelayTarget, server_pid: int, observer: StepObserver | None):
        self._target = target
        self._server_pid = server_pid
        self._observer = observer
        self._next_seq = 0

    async def run(self, plan: StepPlan) -> dict[str, object]:
        # Unrecorded warm-up: fills the server's caches, pools and lazily built paths.
        await self._step(plan.warmup_rate, plan.warmup_s, plan)
        steps: list[dict[str, object]] = []
        best = 0.0
        for rate in plan.rates:
            await asyncio.sleep(plan.pause_s)
            result = await self._step(rate, plan.step_s, plan)
            steps.append(result)
            if not result["passed"]:
                break
            best = rate
        return {
            "max_rate": best,
            "all_steps_passed": bool(steps) and all(s["passed"] for s in steps),
            "steps": steps,
        }

    async def _step(self, rate: float, duration: float, plan: StepPlan) -> dict[str, object]:
        count = max(1, int(rate * duration))
        base = self._next_seq
        self._next_seq += count
        t0 = time.monotonic() + START_DELAY_S
        delivery = Probe(base, count, rate, t0)
        ack = Probe(base, count, rate, t0) if self._target.has_acks else None
        self._target.arm(delivery, ack)
        if self._observer is not None:
            await self._observer.before()
        errors_before = Counter(self._target.errors)
        server_cpu0, own0, wall0 = cpu_seconds(self._server_pid), _own_cpu(), time.monotonic()

        sent = 0
        while sent < count:
            now = time.monotonic()
            due = min(count, int((now - t0) * rate) + 1) if now >= t0 else 0
            burst_end = min(due, sent + MAX_BURST)
            while sent < burst_end:
                await self._target.send(sent % self._target.senders, base + sent)
                sent += 1
            if sent < due:
                await asyncio.sleep(0)  # behind schedule: let receivers run, then catch up
            elif sent < count:
                await asyncio.sleep(max(TICK_S, t0 + sent / rate - time.monotonic()))
        send_end = time.monotonic()

        deadline = send_end + plan.grace_s
        while time.monotonic() < deadline and (
            delivery.received < count or (ack is not None and ack.received < count)
        ):
            await asyncio.sleep(0.01)
        wall = time.monotonic() - wall0
        server_cpu = cpu_seconds(self._server_pid) - server_cpu0
        own_cpu = _own_cpu() - own0

        lat = summarize(delivery)
        ack_lat = summarize(ack) if ack is not None else None
        p99 = lat.p99_ms
        passed = p99 is not None and p99 <= plan.p99_limit_ms and lat.lost <= plan.max_loss * count
        result: dict[str, object] = {
            "rate": rate,
            "sent": count,
            "achieved_send_rate": round(count / max(send_end - t0, 1e-9)),
            "delivery": lat.as_dict(),
            "ack": ack_lat.as_dict() if ack_lat is not None else None,
            "server_cpu_pct": round(100 * server_cpu / wall, 1),
            "loadgen_cpu_pct": round(100 * own_cpu / wall, 1),
            "errors": dict(Counter(self._target.errors) - errors_before),
            "passed": passed,
        }
        if self._observer is not None:
            result.update(await self._observer.after())
        return result


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
