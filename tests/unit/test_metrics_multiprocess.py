"""The parts of ``kefu.observability.multiprocess`` that need no server: the mirror of
scrape-time collectors, and how the metric files of several processes add up (with real
child processes, since prometheus_client picks its multiprocess mode at import).
A node of workers answering one scrape is tested in tests/integration/test_workers.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kefu.observability import metrics
from kefu.observability.multiprocess import MULTIPROC_ENV, Mirror, exposition, forget_process
from tests.support.metrics import value


class Source:
    """A collector whose values the test sets, like process_* read from /proc."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.fds = 0.0

    def collect(self) -> Iterator[Metric]:
        cpu = CounterMetricFamily("demo_cpu_seconds", "CPU", labels=["mode"], created=1.0)
        cpu.add_metric(["user"], self.cpu, created=1.0)
        yield cpu
        yield GaugeMetricFamily("demo_open_fds", "Descriptors", value=self.fds)


def test_a_counter_is_copied_by_its_rises_and_a_gauge_by_its_value_under_the_worker() -> None:
    source, registry = Source(), CollectorRegistry()
    mirror = Mirror([source], worker=2, registry=registry)

    source.cpu, source.fds = 1.5, 10
    mirror.sample()
    source.cpu, source.fds = 4.0, 7
    mirror.sample()
    mirror.sample()  # nothing rose: nothing added
    text = generate_latest(registry).decode()

    assert value(text, "demo_cpu_seconds_total", mode="user", worker="2") == 4.0
    assert value(text, "demo_open_fds", worker="2") == 7


def test_without_a_worker_the_copies_carry_no_label_of_it() -> None:
    registry = CollectorRegistry()
    hot = metrics.HotCounters()
    mirror = Mirror([hot], worker=None, registry=registry)

    hot.frames_in = 3
    mirror.sample()
    hot.frames_in = 5
    mirror.sample()

    assert value(generate_latest(registry).decode(), "kefu_frames_in_total") == 5


def test_every_gauge_leaves_with_its_worker() -> None:
    """A ``live*`` mode on every gauge: otherwise a dead worker's value would linger."""
    gauges = [item for item in vars(metrics).values() if isinstance(item, Gauge)]

    assert gauges
    for gauge in gauges:
        assert gauge._multiprocess_mode.startswith("live"), gauge


# One worker's share: imports kefu's metrics with the shared directory set, as a worker does.
WORKER = """
import os, sys
from kefu.observability import metrics
n = int(sys.argv[1])
metrics.SOCKETS_OPEN.inc(n)
metrics.HTTP_REQUESTS.labels("GET", "200").inc(n)
metrics.LOOP_LAG.observe(0.003 * n)
metrics.QUEUE_LENGTH.set(n)
metrics.CLUSTER_CONNECTED.set(n % 2)
print(os.getpid())
"""


def run_worker(directory: Path, n: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(n)],
        env={**os.environ, MULTIPROC_ENV: str(directory)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout)


def test_the_files_of_several_processes_add_up_and_a_dead_ones_gauges_leave(
    tmp_path: Path,
) -> None:
    first = run_worker(tmp_path, 1)
    second = run_worker(tmp_path, 2)
    assert first != second

    both = exposition(tmp_path).decode()

    assert value(both, "kefu_sockets_open") == 3  # livesum
    assert value(both, "kefu_http_requests_total", method="GET", status="200") == 3
    assert value(both, "kefu_event_loop_lag_seconds_count") == 2
    assert value(both, "kefu_event_loop_lag_seconds_bucket", le="0.005") == 1  # 0.003
    assert value(both, "kefu_event_loop_lag_seconds_bucket", le="0.01") == 2  # and 0.006
    assert value(both, "kefu_conversations_waiting") == 2  # the latest report
    assert value(both, "kefu_cluster_connected") == 0  # livemin: one link is down

    forget_process(tmp_path, second)
    after = exposition(tmp_path).decode()

    assert value(after, "kefu_sockets_open") == 1
    assert value(after, "kefu_cluster_connected") == 1
    assert value(after, "kefu_conversations_waiting") == 1
    assert value(after, "kefu_http_requests_total", method="GET", status="200") == 3
    assert value(after, "kefu_event_loop_lag_seconds_count") == 2
