"""Prometheus metrics. One registry per process; names follow ``kefu_<noun>_<unit>``.

Under ``kefu serve --workers N`` every worker's values also go to files the workers share
(prometheus_client's multiprocess mode, ``kefu.observability.multiprocess``) so that a
scrape answered by any worker covers them all. That is why every gauge names its
``multiprocess_mode``: how the workers' values add up to the node's (ignored by a single
process). Only ``live*`` modes are used, so a dead worker's gauges leave with it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
# Open file descriptors, RSS and CPU: the first things to check with tens of thousands
# of sockets per process.
PROCESS = ProcessCollector(registry=REGISTRY)
PLATFORM = PlatformCollector(registry=REGISTRY)
REGISTRY.register(GC_COLLECTOR)
# Collectors that read this process's live state at scrape time, which another process
# cannot: under several workers, each worker copies them into the shared files itself.
PER_PROCESS: tuple[Collector, ...] = (PROCESS, PLATFORM, GC_COLLECTOR)

# The node's sockets are every worker's sockets.
SOCKETS_OPEN = Gauge(
    "kefu_sockets_open",
    "WebSockets currently open",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
FRAME_ERRORS = Counter(
    "kefu_frame_errors_total", "Client frames answered with an error", ["code"], registry=REGISTRY
)
SLOW_CONSUMERS = Counter(
    "kefu_slow_consumers_total", "Sockets closed for not reading fast enough", registry=REGISTRY
)
SOCKETS_REFUSED = Counter(
    "kefu_sockets_refused_total",
    "WebSocket handshakes refused, by error code",
    ["code"],
    registry=REGISTRY,
)
# Workers share one waiting queue (in the store): each reports the whole queue as of its
# last look, so the latest report is the truest and a sum would count it N times.
QUEUE_LENGTH = Gauge(
    "kefu_conversations_waiting",
    "Conversations waiting for a free agent",
    multiprocess_mode="livemostrecent",
    registry=REGISTRY,
)
# Each worker has a writer of its own; the node's backlog is their sum.
STORE_BACKLOG = Gauge(
    "kefu_store_backlog_messages",
    "Messages waiting for the group-commit writer",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
# SQLite only (kefu.store.search_indexer; PostgreSQL indexes in the commit): read at
# scrape time. Stays below ~500 while the indexer keeps up; growing means it fails
# (its warnings say why) and searches then catch it up themselves, slower.
SEARCH_INDEX_WAITING = Gauge(
    "kefu_search_index_waiting_messages",
    "Chat messages committed and not yet in SQLite's search index",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
# Buckets resolve the 1-20 ms range the latency targets live in.
LOOP_LAG = Histogram(
    "kefu_event_loop_lag_seconds",
    "How late the event loop ran a timer that was due",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
STORE_COMMIT = Histogram(
    "kefu_store_commit_seconds",
    "Duration of one group commit of chat messages",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
STORE_BATCH = Histogram(
    "kefu_store_batch_messages",
    "Messages per group commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
    registry=REGISTRY,
)
SOURCE_FETCH = Histogram(
    "kefu_source_fetch_seconds",
    "One fetch from a department system (customer 360), retries included",
    ["source", "outcome"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
    registry=REGISTRY,
)
SOURCE_ANSWERS = Counter(
    "kefu_source_answers_total",
    "Per-request source states in customer 360 answers (ok, cached, timeout, error, …)",
    ["source", "state"],
    registry=REGISTRY,
)
SOURCE_TRUNCATED = Counter(
    "kefu_source_truncated_total",
    "Fetches whose reply had more rows than the source's max_rows (cut to max_rows)",
    ["source"],
    registry=REGISTRY,
)
# Each worker has its own breaker per source; open in any worker is what to look at.
SOURCE_BREAKER_OPEN = Gauge(
    "kefu_source_breaker_open",
    "1 while a source's circuit breaker is open (or half-open)",
    ["source"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
CUSTOMER_360 = Histogram(
    "kefu_customer360_seconds",
    "Time to answer one customer 360, server side",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0),
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "kefu_events_processed_total",
    "Events whose rule effects were stored (each event once)",
    registry=REGISTRY,
)
EVENTS_INGESTED = Counter(
    "kefu_events_ingested_total", "Events accepted by POST /api/v1/events", registry=REGISTRY
)
EVENTS_DEAD_LETTERED = Counter(
    "kefu_events_dead_lettered_total",
    "Events the rules consumer gave up on (kept as dead letters: alert on any increase)",
    registry=REGISTRY,
)
EVENTS_REDELIVERED = Counter(
    "kefu_events_redelivered_total",
    "JetStream deliveries of an event after its first: retries after a failure, and events "
    "a stopped or crashed consumer held (a rise with no failures: crashes, or ack_wait too short)",
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "kefu_http_requests_total", "REST requests", ["method", "status"], registry=REGISTRY
)


class HotCounters(Collector):
    """Counters bumped on every frame, kept as plain ints and read at scrape time.

    ``prometheus_client.Counter.inc`` takes a lock and validates on each call; at tens of
    thousands of frames per second that is measurable, while an int add is not. The event
    loop is the only writer, so no lock is needed. Under several workers each copies its
    ints into the shared files once a second (``multiprocess.WorkerSampler``).
    """

    def __init__(self) -> None:
        self.frames_in = 0
        self.frames_out = 0
        self.messages_stored = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily("kefu_frames_in", "Client frames received", value=self.frames_in)
        yield CounterMetricFamily(
            "kefu_frames_out", "Frames written to sockets", value=self.frames_out
        )
        yield CounterMetricFamily(
            "kefu_messages_stored", "Chat messages durably stored", value=self.messages_stored
        )


HOT = HotCounters()
REGISTRY.register(HOT)

# Several nodes (kefu.cluster): live frames and signals to and from the other nodes.
# Each worker has its own link; the node is connected only while every one of them is.
CLUSTER_CONNECTED = Gauge(
    "kefu_cluster_connected",
    "1 while this node's cluster link to NATS is up",
    multiprocess_mode="livemin",
    registry=REGISTRY,
)
CLUSTER_SENT = Counter(
    "kefu_cluster_items_sent_total", "Live items published to the other nodes", registry=REGISTRY
)
CLUSTER_RECEIVED = Counter(
    "kefu_cluster_items_received_total", "Live items received from other nodes", registry=REGISTRY
)
CLUSTER_DROPPED = Counter(
    "kefu_cluster_items_dropped_total",
    "Live items not sent to other nodes (NATS unreachable, its buffer or the wait list full)",
    registry=REGISTRY,
)
# Frames for "every supervisor" / "every agent" that no other node announced sockets for
# (kefu.cluster.peers): kept off NATS. Counted where the hub decides, once per frame.
CLUSTER_SKIPPED = Counter(
    "kefu_cluster_items_skipped_total",
    "Audience frames not published: no other node has sockets of that audience",
    registry=REGISTRY,
)
