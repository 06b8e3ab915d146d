"""Rate stepping: offer a fixed message rate for a few seconds, measure, go up, stop at failure.

Each step is open-loop (see :mod:`bench.latency`) and bounded: ``step_s`` of sending plus
at most ``grace_s`` waiting for stragglers. A step passes when its delivery p99 is within
the limit and at most ``max_loss`` of its messages were lost; stepping stops at the first
failing step, so an overloaded server is never pushed for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bench.drivers.base import RelayTarget
from bench.latency import Probe, summarize
from bench.procs import CpuPlan, core_times, cpu_seconds, cpu_seconds_fine, pids_named

# Messages sent back to back before yielding to the receivers: bounds the client's own
# added latency when it is behind schedule, while keeping per-tick overhead low. A send is
# a plain call (~2 us), so a burst is short.
MAX_BURST = 256
# Delay between creating a step's probes and its first due message.
START_DELAY_S = 0.05
# Shortest sleep between bursts: the event loop's timers have ~1 ms resolution, and
# shorter sleeps turn into a busy loop that burns the generator's core. Sending what fell
# due in the last millisecond as one burst adds at most 1 ms, which the latency shows.
TICK_S = 0.001
# Seconds of quiet before the steps, to learn the server's idle CPU use.
IDLE_SAMPLE_S = 2.0
# A server using less than this share of its core is done with the setup's aftermath;
# wait at most QUIET_TIMEOUT_S for that.
QUIET_SHARE = 0.05
QUIET_TIMEOUT_S = 30.0


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
    # A step that fails is tried once more before stepping stops: the machine is shared,
    # and one stall from a neighbour should not decide a stack's ceiling.
    attempts: int = 2


class Stepper:
    """Runs a :class:`StepPlan` against a target; the server's pid gives its CPU share.

    ``server_pid`` may be several pids (a cluster of servers sharing the server cores):
    their CPU is summed into every ``server_*`` figure and also given per pid.
    ``service_pids`` names processes outside the measured servers whose CPU is worth
    reporting beside them (a message broker): they are not pinned and may serve other
    users of the machine, so their figures are reported apart and never summed in. A
    service is a pid, or a process name (``/proc/PID/comm``) for a server of many
    processes such as PostgreSQL: every process of that name, as found at each reading.
    """

    def __init__(
        self,
        target: RelayTarget,
        server_pid: int | Sequence[int],
        cores: CpuPlan,
        observer: StepObserver | None,
        service_pids: Mapping[str, int | str] | None = None,
    ) -> None:
        self._target = target
        self._server_pids = [server_pid] if isinstance(server_pid, int) else list(server_pid)
        self._cores = cores
        self._observer = observer
        self._services = dict(service_pids or {})
        self._next_seq = 0
        self._idle_cpu_share = 0.0
        self._idle_service_share: dict[str, float | None] = {}

    async def run(self, plan: StepPlan) -> dict[str, object]:
        # Setup can leave work behind on the server (welcome messages, broadcasts): wait
        # until it is quiet, then learn what it burns with every socket open and nothing
        # flowing (timers, pings), which each step subtracts to get the marginal cost.
        deadline = time.monotonic() + QUIET_TIMEOUT_S
        while await self._server_cpu_share(1.0) > QUIET_SHARE and time.monotonic() < deadline:
            pass
        services0, t0 = self._service_cpu(), time.monotonic()
        self._idle_cpu_share = await self._server_cpu_share(IDLE_SAMPLE_S)
        self._idle_service_share = _shares(services0, self._service_cpu(), time.monotonic() - t0)
        # Unrecorded warm-up: fills the server's caches, pools and lazily built paths.
        await self._step(plan.warmup_rate, plan.warmup_s, plan)
        steps: list[dict[str, object]] = []
        best = 0.0
        for rate in plan.rates:
            for attempt in range(1, plan.attempts + 1):
                await asyncio.sleep(plan.pause_s)
                result = await self._step(rate, plan.step_s, plan)
                result["attempt"] = attempt
                steps.append(result)
                if result["passed"]:
                    break
            if not result["passed"]:
                break
            best = rate
        extra: dict[str, object] = {}
        if self._services:
            extra["service_idle_cpu_pct"] = {
                name: None if share is None else round(100 * share, 1)
                for name, share in self._idle_service_share.items()
            }
        return {
            "server_idle_cpu_pct": round(100 * self._idle_cpu_share, 1),
            **extra,
            "max_rate": best,
            "all_steps_passed": bool(plan.rates) and best == plan.rates[-1],
            "steps": steps,
        }

    def _server_cpu(self) -> list[float]:
        return [cpu_seconds(pid) for pid in self._server_pids]

    def _service_cpu(self) -> dict[str, _Reading]:
        """CPU seconds of each service's processes so far (at ns resolution: a broker's
        share is small); None for a pid that is gone or unreadable."""
        out: dict[str, _Reading] = {}
        for name, which in self._services.items():
            pids = [which] if isinstance(which, int) else pids_named(which)
            reading: dict[int, float] = {}
            for pid in pids:
                with contextlib.suppress(OSError):
                    reading[pid] = cpu_seconds_fine(pid)
            out[name] = reading if reading or isinstance(which, str) else None
        return out

    async def _server_cpu_share(self, seconds: float) -> float:
        cpu0, t0 = sum(self._server_cpu()), time.monotonic()
        await asyncio.sleep(seconds)
        return (sum(self._server_cpu()) - cpu0) / (time.monotonic() - t0)

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
        per_pid0, wall0 = self._server_cpu(), time.monotonic()
        own0 = resource.getrusage(resource.RUSAGE_SELF)
        services0 = self._service_cpu()
        server_cores, client_cores = self._cores.server, self._cores.loadgen
        server_core0, client_core0 = core_times(server_cores), core_times(client_cores)
        own_lag = _LoopLag()

        sent = 0
        while sent < count:
            now = time.monotonic()
            due = min(count, int((now - t0) * rate) + 1) if now >= t0 else 0
            burst_end = min(due, sent + MAX_BURST)
            send, senders = self._target.send, self._target.senders
            while sent < burst_end:
                send(sent % senders, base + sent)
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
        own_lag.stop()
        wall = time.monotonic() - wall0
        per_pid = [b - a for a, b in zip(per_pid0, self._server_cpu(), strict=True)]
        server_cpu = sum(per_pid)
        services = _shares(services0, self._service_cpu(), wall)
        own1 = resource.getrusage(resource.RUSAGE_SELF)
        own_sys = own1.ru_stime - own0.ru_stime
        own_cpu = own1.ru_utime - own0.ru_utime + own_sys
        # Task time on each side's cores not spent by that side: a neighbour's load.
        on_server = core_times(server_cores) - server_core0
        on_client = core_times(client_cores) - client_core0
        other_on_server = on_server.task_s - server_cpu
        other_on_client = on_client.task_s - own_cpu

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
            # CPU per message barely moves when neighbours steal time, unlike latency:
            # the steadier figure for comparing two servers on a shared machine.
            "server_cpu_us_per_msg": round(
                max(0.0, 1e6 * (server_cpu - self._idle_cpu_share * wall) / count), 1
            ),
            "server_cpu_us_per_msg_gross": round(1e6 * server_cpu / count, 1),
            "loadgen_cpu_pct": round(100 * own_cpu / wall, 1),
            # The generator's own CPU per message (sending, receiving, bookkeeping; gross):
            # beside the server's, it shows which side a step's rate really cost.
            "loadgen_cpu_us_per_msg": round(1e6 * own_cpu / count, 1),
            # Of which in the kernel: on loopback a write() also runs the TCP receive path
            # of the peer, so every side pays the kernel for the frames it sends.
            "loadgen_cpu_sys_us_per_msg": round(1e6 * own_sys / count, 1),
            "other_cpu_pct_server_cores": round(max(0.0, 100 * other_on_server / wall), 1),
            "other_cpu_pct_loadgen_cores": round(max(0.0, 100 * other_on_client / wall), 1),
            "irq_pct_server_cores": round(100 * on_server.irq_s / wall, 1),
            "steal_pct_server_cores": round(100 * on_server.steal_s / wall, 1),
            "steal_pct_loadgen_cores": round(100 * on_client.steal_s / wall, 1),
            # The generator's own loop stalls: a latency spike that shows up here too
            # was (at least partly) the client's, not the server's.
            "loadgen_loop_lag_max_ms": own_lag.max_ms,
            "errors": dict(Counter(self._target.errors) - errors_before),
            "passed": passed,
        }
        if len(self._server_pids) > 1:
            result["server_cpu_pct_by_pid"] = [round(100 * c / wall, 1) for c in per_pid]
        if self._services:
            result.update(self._service_figures(services, wall, count))
        if self._observer is not None:
            result.update(await self._observer.after())
        return result

    def _service_figures(
        self, shares: Mapping[str, float | None], wall: float, count: int
    ) -> dict[str, object]:
        """Each service's share of a core over the step and its CPU per message, net of
        what it burnt while the servers sat idle (its other users' load is not)."""
        pct: dict[str, float | None] = {}
        per_msg: dict[str, float | None] = {}
        for name, share in shares.items():
            idle = self._idle_service_share.get(name) or 0.0
            pct[name] = None if share is None else round(100 * share, 1)
            per_msg[name] = (
                None if share is None else round(max(0.0, 1e6 * (share - idle) * wall / count), 1)
            )
        return {"service_cpu_pct": pct, "service_cpu_us_per_msg": per_msg}


class _LoopLag:
    """Worst lateness of a 5 ms timer on the generator's own loop while a step runs."""

    INTERVAL_S = 0.005

    def __init__(self) -> None:
        self.max_ms = 0.0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            due = time.monotonic() + self.INTERVAL_S
            await asyncio.sleep(self.INTERVAL_S)
            self.max_ms = max(self.max_ms, round((time.monotonic() - due) * 1000, 1))

    def stop(self) -> None:
        self._task.cancel()


# One service's reading: CPU seconds by pid, or None when its one pid could not be read.
_Reading = dict[int, float] | None


def _shares(
    before: Mapping[str, _Reading], after: Mapping[str, _Reading], wall: float
) -> dict[str, float | None]:
    """Share of one core each service used between two readings (None if unread). A
    process that appeared in between counts from zero; one that exited is not counted."""
    out: dict[str, float | None] = {}
    for name, cpu0 in before.items():
        cpu1 = after.get(name)
        if cpu0 is None or cpu1 is None:
            out[name] = None
            continue
        used = sum(cpu - cpu0.get(pid, 0.0) for pid, cpu in cpu1.items())
        out[name] = max(0.0, used) / max(wall, 1e-9)
    return out
