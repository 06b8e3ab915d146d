"""Metrics of every ``kefu serve --workers`` process, whichever of them is scraped.

Workers share the HTTP port, so the kernel hands a scrape of ``/metrics`` to one of them.
prometheus_client's multiprocess mode makes that one answer for the whole node: when
``PROMETHEUS_MULTIPROC_DIR`` names a directory as prometheus_client is imported, every
Counter, Gauge and Histogram keeps its value in a per-process file there, and a
``MultiProcessCollector`` merges the files at scrape time: counters and histograms summed
(those of dead workers included, so nothing counted is lost to a crash), gauges as their
``multiprocess_mode`` says (``kefu.observability.metrics``). The supervisor
(``kefu.workers``) creates the directory, sets the variable for its children only, drops a
reaped worker's live gauges (``mark_process_dead``) and removes the directory on exit.

The files cannot carry collectors that compute their values at scrape time from the
process's own state, because the scraped worker cannot see another's: ``process_*``,
``python_gc_*``, ``python_info`` and ``metrics.HOT``'s plain ints. A ``WorkerSampler``
in every worker copies them into ordinary metrics (``Mirror``): the process's own as
series labelled ``worker="<slot>"``, HOT's as node-wide counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from kefu.observability import metrics

# prometheus_client's own switch, read once as it is imported: the variable must be set
# before the process starts, which is why only a supervisor can set it (for its children).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How stale another worker's copied values may be in a scrape: well under Prometheus's
# usual 15 s scrape interval, and the copy of HOT costs microseconds.
SAMPLE_INTERVAL_SECONDS = 1.0
# process_* lists /proc/self/fd, one entry per socket: ~6 ms at 5,000 sockets (measured),
# so it runs in a thread and less often than HOT's copy.
PROCESS_SAMPLE_INTERVAL_SECONDS = 5.0
WORKER_LABEL = "worker"

_Labels = tuple[tuple[str, str], ...]


def shared_dir() -> Path | None:
    """The directory the node's workers share their metrics in; None in a single process."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def exposition(directory: Path) -> bytes:
    """A scrape's text for the whole node: every worker's files merged.

    A fresh registry each time, as prometheus_client asks: the collector reads the files
    as they are now, including those of workers started since the last scrape.
    """
    node = CollectorRegistry()
    MultiProcessCollector(node, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(node)


def forget_process(directory: Path, pid: int) -> None:
    """A worker was reaped: its live gauges leave the node's answer, while its counters
    and histograms stay in the node's totals (their files are kept)."""
    mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


class Mirror:
    """Copies what collectors compute at scrape time into metrics the shared files carry.

    A counter family becomes a ``Counter`` raised by how much the source rose since the
    last copy, so the node's total keeps a dead worker's share; a gauge family becomes a
    ``livesum`` ``Gauge`` set to the source's value, which leaves with its worker.
    ``worker`` adds a ``worker="<slot>"`` label to every series (process_* and python_*:
    per worker, as one process's CPU or memory is not the node's); without it the
    series of all workers add up (HOT's frame counts). ``registry`` is for tests: the
    copies are written to the shared files whether or not a registry holds them.
    """

    def __init__(
        self,
        collectors: Iterable[Collector],
        *,
        worker: int | None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._collectors = tuple(collectors)
        self._extra: _Labels = () if worker is None else ((WORKER_LABEL, str(worker)),)
        self._registry = registry
        self._counters: dict[tuple[str, tuple[str, ...]], Counter] = {}
        self._gauges: dict[tuple[str, tuple[str, ...]], Gauge] = {}
        self._last: dict[tuple[str, _Labels], float] = {}

    def sample(self) -> None:
        for collector in self._collectors:
            for family in collector.collect():
                if family.type == "counter":
                    self._copy_counter(family)
                elif family.type == "gauge":
                    self._copy_gauge(family)
                # Other types (info, histogram, …) appear in no collector mirrored.

    def _copy_counter(self, family: Metric) -> None:
        for sample in family.samples:
            if sample.name != family.name + "_total":
                continue  # _created: meaningless summed over processes
            labels = self._labels(sample.labels)
            key = (sample.name, labels)
            rise = sample.value - self._last.get(key, 0.0)
            self._last[key] = sample.value
            if rise > 0:
                counter = self._counter(family, tuple(name for name, _ in labels))
                (counter.labels(**dict(labels)) if labels else counter).inc(rise)

    def _copy_gauge(self, family: Metric) -> None:
        for sample in family.samples:
            if sample.name != family.name:
                continue
            labels = self._labels(sample.labels)
            gauge = self._gauge(family, tuple(name for name, _ in labels))
            (gauge.labels(**dict(labels)) if labels else gauge).set(sample.value)

    def _labels(self, own: dict[str, str]) -> _Labels:
        return tuple(sorted(own.items())) + self._extra

    def _counter(self, family: Metric, names: tuple[str, ...]) -> Counter:
        counter = self._counters.get((family.name, names))
        if counter is None:
            counter = self._counters[(family.name, names)] = Counter(
                family.name, family.documentation, names, registry=self._registry
            )
        return counter

    def _gauge(self, family: Metric, names: tuple[str, ...]) -> Gauge:
        gauge = self._gauges.get((family.name, names))
        if gauge is None:
            gauge = self._gauges[(family.name, names)] = Gauge(
                family.name,
                family.documentation,
                names,
                multiprocess_mode="livesum",
                registry=self._registry,
            )
        return gauge


class WorkerSampler:
    """One worker's share of the node's scrape: the values only it can read, copied into
    the shared files while it runs, and once more as it stops (so a worker that drains
    leaves its last frames counted; one killed outright loses at most one interval).

    ``backlog`` reads the worker's store backlog: a value of its own writer that the
    scraped worker would otherwise sample for itself only.
    """

    def __init__(
        self,
        worker: int | None,
        backlog: Callable[[], int],
        *,
        interval: float = SAMPLE_INTERVAL_SECONDS,
        process_interval: float = PROCESS_SAMPLE_INTERVAL_SECONDS,
    ) -> None:
        self._hot = Mirror((metrics.HOT,), worker=None)
        self._process = Mirror(metrics.PER_PROCESS, worker=worker)
        self._backlog = backlog
        self._interval = interval
        self._process_interval = process_interval
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WorkerSampler:
        self._task = asyncio.create_task(self._run(), name="kefu-worker-metrics")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample_own()

    def _sample_own(self) -> None:
        self._hot.sample()
        metrics.STORE_BACKLOG.set(self._backlog())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        process_due = loop.time()
        while True:
            self._sample_own()
            if loop.time() >= process_due:
                await asyncio.to_thread(self._process.sample)
                process_due = loop.time() + self._process_interval
            await asyncio.sleep(self._interval)
