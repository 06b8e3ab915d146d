"""The node's link to the others: publish what this node sends, deliver what they send.

Each node holds its own NATS connection with ``no_echo``: NATS never hands a node its own
publishes back, so nothing is delivered twice locally. Items posted during one loop
iteration leave as one NATS message at the end of it (the same trick as a socket's
outbound queue, ``kefu.chat.connection``).

Failure policy: live frames are best-effort across nodes, as they are to a socket. While
NATS is unreachable at start the node serves its own sockets and keeps connecting in the
background; during a reconnect nats-py buffers publishes (bounded) and sends them after;
anything beyond is dropped and counted (``kefu_cluster_items_dropped_total``). Items wait
for the publisher in a bounded list (``MAX_PENDING_ITEMS``): while it is stuck on a slow
NATS, an item posted to a full list is dropped and counted the same way, so a stalled link
costs bounded memory. Nothing is lost from the store: clients that reconnect ``resume``
from their last id.

Audiences: the relay also announces which audiences this node has sockets for (every
heartbeat, and at once when it gains one) and keeps what the others announce
(``kefu.cluster.peers``), so the hub can leave a frame for "every supervisor" off NATS
when no other node has one. Losing an audience is announced with the next heartbeat
rather than at once: a console that reconnects (gone and back within a heartbeat) then
never makes the others stop and start sending again. Gaining one is announced at once,
which leaves a window of one NATS hop in which another node may still keep a list frame
home (docs/scaling.md, "Who needs what": the new console loads its list after that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from kefu.bus.nats_close import close_quietly
from kefu.cancellation import raise_if_cancelled
from kefu.cluster import envelope
from kefu.cluster.envelope import Audience
from kefu.cluster.peers import Peers
from kefu.cluster.settings import ClusterSettings
from kefu.observability import metrics

log = logging.getLogger(__name__)

# Between two attempts at the first connection while NATS is down at start.
RETRY_SECONDS = 2.0
# A peer's announcement counts for this many of its heartbeats: two late or lost ones in a
# row change nothing.
ANNOUNCE_TTL_HEARTBEATS = 3.0
# After (re)connecting, want every audience for this many heartbeats: every live peer
# announces at least once a heartbeat, so by then each has been heard, with half a
# heartbeat to spare for a busy peer.
LISTEN_HEARTBEATS = 1.5
# Announcements leave every heartbeat times a random factor in this range: nodes that
# reconnected together do not announce in lockstep, and the gap never exceeds a heartbeat.
ANNOUNCE_JITTER = (0.8, 1.0)
# Items posted and not yet taken by the publisher. They leave as one NATS message, and at
# a few hundred bytes per frame 10,000 already exceed NATS' default 1 MiB max_payload: a
# list that long only builds up while the publisher waits on a stalled server, and then
# dropping the newest (counted) is the stated policy rather than growing without limit.
MAX_PENDING_ITEMS = 10_000

Deliver = Callable[[list[envelope.Item]], None]


class LiveRelay:
    def __init__(
        self,
        url: str,
        settings: ClusterSettings,
        name: str,
        *,
        max_pending: int = MAX_PENDING_ITEMS,
    ) -> None:
        """``max_pending`` bounds the items waiting for the publisher (module docstring)."""
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._url = url
        self._subject = settings.subject
        self._connect_timeout = settings.connect_timeout_seconds
        self._name = name
        self._nc: NATS | None = None
        self._pending: list[envelope.Item] = []
        self._max_pending = max_pending
        self._overflowing = False  # said once per episode of a full list, not per item
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliver: Deliver | None = None
        self._closing = False
        # Audiences: what this node holds, what the others do.
        self._node = f"{name}:{secrets.token_hex(4)}"  # a restarted process is a new node
        self._nodes_subject = f"{settings.subject}.nodes"
        self._heartbeat = settings.heartbeat_seconds
        self._ttl = ANNOUNCE_TTL_HEARTBEATS * settings.heartbeat_seconds
        self._listen_for = LISTEN_HEARTBEATS * settings.heartbeat_seconds
        self._routing = settings.audience_routing
        self._peers = Peers(time.monotonic, self._listen_for)
        self._holding: frozenset[Audience] = frozenset()
        self._announced: frozenset[Audience] = frozenset()
        self._announce_due = False
        self._announcer: asyncio.Task[None] | None = None

    async def start(self, deliver: Deliver) -> None:
        """Connect and subscribe; if NATS is down, keep trying in the background."""
        self._deliver = deliver
        self._spawn(self._publisher())
        self._announcer = asyncio.create_task(self._announce_every_heartbeat())
        try:
            await self._connect()
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            log.error(
                "cluster: cannot reach NATS at %s (%r); serving this node's sockets only "
                "and retrying every %.0f s",
                self._url,
                exc,
                RETRY_SECONDS,
            )
            self._spawn(self._keep_connecting())

    async def _connect(self) -> None:
        nc = NATS()
        try:
            async with asyncio.timeout(self._connect_timeout):
                await nc.connect(
                    self._url,
                    name=self._name,
                    no_echo=True,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
                await nc.subscribe(self._subject, cb=self._on_message)
                await nc.subscribe(self._nodes_subject, cb=self._on_announce)
                await nc.flush()
        except BaseException:
            await close_quietly(nc, what="cluster", drain_timeout=None)
            raise
        self._nc = nc
        metrics.CLUSTER_CONNECTED.set(1)
        self._peers.restart(self._listen_for)
        self._request_announce()
        log.info("cluster: live frames cross nodes on %s (%s)", self._subject, self._url)

    async def _keep_connecting(self) -> None:
        while self._nc is None and not self._closing:
            await asyncio.sleep(RETRY_SECONDS)
            try:
                await self._connect()
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                log.debug("cluster: still cannot reach NATS: %r", exc)

    def wanted(self, audience: Audience) -> bool:
        """Does any other node (as far as this one knows) have sockets for ``audience``?
        True while unsure: see ``kefu.cluster.peers``."""
        return not self._routing or self._peers.wanted(audience)

    def hold(self, audiences: frozenset[Audience]) -> None:
        """This node's sockets now cover ``audiences`` (the hub calls this when that
        changes). A gain is announced at once, so the others start sending before the new
        console has loaded its list; a loss waits for the next heartbeat."""
        self._holding = audiences
        if not audiences <= self._announced:
            self._request_announce()

    def peers(self) -> dict[str, frozenset[Audience]]:
        """The other nodes and their audiences as last announced (for tests and logs)."""
        return self._peers.known()

    def _request_announce(self) -> None:
        self._announce_due = True
        self._wake.set()

    async def _announce_every_heartbeat(self) -> None:
        while True:
            raise_if_cancelled()  # one nats-py swallowed (kefu.cancellation)
            jitter = random.uniform(*ANNOUNCE_JITTER)  # noqa: S311 (spreading, not secrecy)
            await asyncio.sleep(self._heartbeat * jitter)
            self._request_announce()

    async def _announce(self) -> None:
        """Say what this node holds (or that it leaves, when closing). Not counted as an
        item: announcements are the relay's own bookkeeping, not frames."""
        nc = self._nc
        if nc is None or nc.is_closed:
            return  # connecting announces
        # Recorded before the await: a gain that ``hold`` sees meanwhile compares against
        # what is on its way, and asks for another announcement if it is not in it.
        self._announced = holding = self._holding
        announce = envelope.Announce(self._node, sorted(holding), self._ttl, self._closing)
        try:
            await nc.publish(self._nodes_subject, envelope.encode_announce(announce))
        except (nats.errors.Error, OSError) as exc:
            self._announced = frozenset()  # any gain announces at once again
            log.warning("cluster: announcement not sent (the next heartbeat retries): %r", exc)

    async def _on_announce(self, msg: Msg) -> None:
        try:
            announce = envelope.decode_announce(msg.data)
        except msgspec.DecodeError as exc:
            # A node whose needs this one cannot read: publish everything for a while.
            log.warning("cluster: unreadable announcement on %s: %s", msg.subject, exc)
            self._peers.unsure(self._ttl)
            return
        if announce.node == self._node:
            return
        if announce.leaving:
            self._peers.left(announce.node)
        else:
            self._peers.heard(announce.node, announce.audiences, announce.ttl_seconds)

    def post(self, item: envelope.Item) -> None:
        """Queue ``item`` for the other nodes; it leaves at the end of this loop iteration."""
        if self._nc is None:
            metrics.CLUSTER_DROPPED.inc()
            return
        if len(self._pending) >= self._max_pending:
            metrics.CLUSTER_DROPPED.inc()
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "cluster: %d live items wait for NATS; dropping new ones until they leave",
                    len(self._pending),
                )
            return
        self._pending.append(item)
        if not self._wake.is_set():
            self._wake.set()

    async def _publisher(self) -> None:
        """One long-lived task sends what was posted: the event wakes it after the current
        loop iteration, so everything posted in that iteration (and while it was busy
        publishing) leaves as one NATS message, with no task or callback per batch."""
        while not self._closing or self._pending or self._announce_due:
            raise_if_cancelled()  # one nats-py swallowed (kefu.cancellation)
            await self._wake.wait()
            self._wake.clear()
            if self._announce_due:
                self._announce_due = False
                await self._announce()
            items, self._pending = self._pending, []
            self._overflowing = False
            if items:
                await self._publish(items)

    async def _publish(self, items: list[envelope.Item]) -> None:
        nc = self._nc
        if nc is None or nc.is_closed:
            metrics.CLUSTER_DROPPED.inc(len(items))
            return
        try:
            await nc.publish(self._subject, envelope.encode(items))
        except (nats.errors.Error, OSError) as exc:
            # OutboundBufferLimitError while reconnecting with a full buffer, among others.
            metrics.CLUSTER_DROPPED.inc(len(items))
            log.warning("cluster: %d live items not sent to other nodes: %r", len(items), exc)
        else:
            metrics.CLUSTER_SENT.inc(len(items))

    async def _on_message(self, msg: Msg) -> None:
        try:
            items = envelope.decode(msg.data)
        except msgspec.DecodeError as exc:
            # Another program (or another kefu version) on our subject: say so, once each.
            log.warning("cluster: ignored a message on %s that is not kefu's: %s", msg.subject, exc)
            return
        metrics.CLUSTER_RECEIVED.inc(len(items))
        if self._deliver is not None:
            self._deliver(items)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_error(self, exc: Exception) -> None:
        log.warning("cluster: NATS error: %r", exc)

    async def _on_disconnected(self) -> None:
        metrics.CLUSTER_CONNECTED.set(0)
        if self._closing:
            return
        log.warning("cluster: disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        metrics.CLUSTER_CONNECTED.set(1)
        log.info("cluster: reconnected to NATS")
        # Announcements were missed while away, and peers may have forgotten this node.
        self._peers.restart(self._listen_for)
        self._request_announce()

    async def close(self) -> None:
        """Send what is queued and that this node leaves, then close."""
        self._closing = True
        if self._announcer is not None:
            self._announcer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._announcer
        self._request_announce()  # leaving; the publisher sends what is queued, then ends
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self._connect_timeout)
        for task in list(self._tasks):
            task.cancel()
        nc, self._nc = self._nc, None
        metrics.CLUSTER_CONNECTED.set(0)
        if nc is not None:
            # Drained when up; closed (never left reconnecting) when NATS is down.
            await close_quietly(nc, what="cluster", drain_timeout=self._connect_timeout)


def node_name() -> str:
    """host:pid: names this process in NATS's connection list (``nats server report``)."""
    return f"{socket.gethostname()}:{os.getpid()}"
