"""Where sockets live: principal key -> open connections, for addressed fan-out.

Besides the principals' own sockets, the hub knows which agents are online (and which of
them are supervisors), so list updates reach the consoles that show them without a query,
and which sockets *watch* a conversation they are not a participant of (a supervisor's
console following someone else's chat).

With several nodes (``kefu.cluster``) the hub also hands what it sends to the relay, and
the relay hands it what the other nodes sent. Console frames for "every supervisor" name
an ``Audience`` rather than a list of keys, because only each node knows who is online
there. Such a frame leaves for the others only while some other node has announced
sockets of that audience (``kefu.cluster.peers``): the hub tells the relay what it holds
whenever that changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine
from typing import Any, Protocol

from kefu.chat import server_frames
from kefu.chat.connection import CLOSE_UNAUTHORIZED, Connection, SocketState
from kefu.cluster.envelope import (
    Audience,
    ConversationChanged,
    Disconnect,
    Frame,
    Item,
    Reload,
)
from kefu.domain.roles import Role
from kefu.errors import Conflict
from kefu.observability import metrics

# Conversations one socket may watch at once: a console watches the one on screen; the
# bound keeps a misbehaving client from growing the watcher index without limit.
MAX_WATCHES_PER_SOCKET = 20


class Relay(Protocol):
    """Where the hub sends what other nodes must see (``kefu.cluster.relay.LiveRelay``)."""

    def post(self, item: Item) -> None: ...

    def wanted(self, audience: Audience) -> bool:
        """Might another node have sockets for ``audience``?"""
        ...

    def hold(self, audiences: frozenset[Audience]) -> None:
        """This node now has sockets for ``audiences``."""
        ...


class Hub:
    def __init__(self) -> None:
        self._sockets: dict[str, set[Connection]] = {}
        # Online agents, and those of them that are supervisors or admins: list frames go to
        # them on every message, so these are kept ready rather than filtered per message.
        self._agents: set[str] = set()
        self._supervisors: set[str] = set()
        self._watchers: dict[str, set[Connection]] = {}  # conversation id -> sockets
        self._watching: dict[Connection, set[str]] = {}  # socket -> conversation ids
        self._relay: Relay | None = None
        self._held: frozenset[Audience] = frozenset()  # as last told to the relay
        self._conversation_changed: Callable[[str], None] | None = None
        self._reload: Callable[[str], Coroutine[Any, Any, None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(
        self,
        relay: Relay,
        *,
        conversation_changed: Callable[[str], None],
        reload: Callable[[str], Coroutine[Any, Any, None]],
    ) -> None:
        """Join a cluster: send through ``relay`` too. When another node changed something
        this node keeps a copy of, ``conversation_changed`` drops a cached conversation and
        ``reload`` reads admin-edited data again (``envelope.Reload``)."""
        self._relay = relay
        self._conversation_changed = conversation_changed
        self._reload = reload
        self._held = self._holding()
        relay.hold(self._held)

    @property
    def clustered(self) -> bool:
        return self._relay is not None

    def add(self, connection: Connection) -> bool:
        """Register; True when this is the principal's first socket (it came online)."""
        principal = connection.principal
        sockets = self._sockets.setdefault(principal.key, set())
        sockets.add(connection)
        if principal.is_agent:
            self._agents.add(principal.key)
            if principal.has_role(Role.SUPERVISOR):
                self._supervisors.add(principal.key)
            self._tell_relay()
        metrics.SOCKETS_OPEN.inc()
        return len(sockets) == 1

    def remove(self, connection: Connection) -> bool:
        """Unregister; True when that was the principal's last socket (it went offline)."""
        key = connection.principal.key
        sockets = self._sockets.get(key)
        if sockets is None or connection not in sockets:
            return False
        sockets.discard(connection)
        metrics.SOCKETS_OPEN.dec()
        for conversation_id in self._watching.pop(connection, ()):
            self._drop_watcher(conversation_id, connection)
        if sockets:
            return False
        del self._sockets[key]
        if connection.principal.is_agent:
            self._agents.discard(key)
            self._supervisors.discard(key)
            self._tell_relay()
        return True

    def _holding(self) -> frozenset[Audience]:
        held: set[Audience] = set()
        if self._agents:
            held.add(Audience.AGENTS)
        if self._supervisors:
            held.add(Audience.SUPERVISORS)
        return frozenset(held)

    def _tell_relay(self) -> None:
        """The other nodes publish audience frames only to nodes that hold the audience:
        tell the relay when this node's first supervisor or agent arrives or the last
        leaves (cheap to check, rare to change)."""
        if self._relay is None:
            return
        held = self._holding()
        if held != self._held:
            self._held = held
            self._relay.hold(held)

    def watch(self, connection: Connection, conversation_id: str) -> None:
        """Also send ``conversation_id``'s live frames to this socket (access checked by
        the caller)."""
        watched = self._watching.setdefault(connection, set())
        if conversation_id not in watched and len(watched) >= MAX_WATCHES_PER_SOCKET:
            raise Conflict(
                f"a socket may watch at most {MAX_WATCHES_PER_SOCKET} conversations",
                code="too_many_watches",
            )
        watched.add(conversation_id)
        self._watchers.setdefault(conversation_id, set()).add(connection)

    def unwatch(self, connection: Connection, conversation_id: str) -> None:
        watched = self._watching.get(connection)
        if watched is None or conversation_id not in watched:
            return
        watched.discard(conversation_id)
        if not watched:
            del self._watching[connection]
        self._drop_watcher(conversation_id, connection)

    def _drop_watcher(self, conversation_id: str, connection: Connection) -> None:
        watchers = self._watchers.get(conversation_id)
        if watchers is not None:
            watchers.discard(connection)
            if not watchers:
                del self._watchers[conversation_id]

    def agent_ids(self) -> list[str]:
        """Ids of the agents with a socket on this node."""
        return [next(iter(self._sockets[key])).principal.id for key in self._agents]

    def may_reach(self, audience: Audience) -> bool:
        """Could a frame for ``audience`` (and no named principal) reach anyone? False when
        no agent of it is online on this node and no other node wants it: the caller then
        skips the frame, and its query and encoding, altogether (counted as skipped when it
        is the other nodes' announcements that spare it)."""
        if audience is Audience.NONE:
            return False
        if self._agents if audience is Audience.AGENTS else self._supervisors:
            return True
        if self._relay is None:
            return False
        if self._relay.wanted(audience):
            return True
        metrics.CLUSTER_SKIPPED.inc()
        return False

    def send(
        self,
        keys: Collection[str],
        frame: bytes,
        conversation_id: str | None = None,
        message_id: int | None = None,
        skip: str | None = None,
        audience: Audience = Audience.NONE,
    ) -> None:
        """The same encoded bytes to every socket of every principal in ``keys`` and of
        the online agents ``audience`` names, on this node and every other.

        ``conversation_id``/``message_id`` let a socket that is replaying that conversation
        hold the frame back until the replay is done (see ``Connection.hold``). Sockets
        watching that conversation get the frame too, unless their principal was already
        served or is ``skip`` (the sender of a typing/read signal).
        """
        self.deliver(keys, frame, conversation_id, message_id, skip, audience)
        relay = self._relay
        if relay is None:
            return
        # Named principals may be anywhere; an audience only where a node announced it
        # (watchers are supervisors, so a node with watchers holds SUPERVISORS).
        if keys or audience is Audience.NONE or relay.wanted(audience):
            relay.post(Frame(list(keys), audience, frame, conversation_id, message_id, skip))
        else:
            metrics.CLUSTER_SKIPPED.inc()

    def deliver(
        self,
        keys: Collection[str],
        frame: bytes,
        conversation_id: str | None = None,
        message_id: int | None = None,
        skip: str | None = None,
        audience: Audience = Audience.NONE,
    ) -> None:
        """``send`` to this node's sockets only."""
        served = keys
        if audience is not Audience.NONE:
            group = self._agents if audience is Audience.AGENTS else self._supervisors
            if group:
                served = group.union(keys) if keys else group
        for key in served:
            for connection in self._sockets.get(key, ()):
                connection.send(frame, conversation_id, message_id)
        if conversation_id is None or not self._watchers:
            return
        watchers = self._watchers.get(conversation_id)
        if watchers:
            for connection in watchers:
                key = connection.principal.key
                if key not in served and key != skip:
                    connection.send(frame, conversation_id, message_id)

    def conversation_changed(self, conversation_id: str) -> None:
        """Tell the other nodes to forget their cached copy of the conversation."""
        if self._relay is not None:
            self._relay.post(ConversationChanged(conversation_id))

    def announce_reload(self, what: str) -> None:
        """This node changed admin-edited data (``envelope.Reload``): the others re-read it."""
        if self._relay is not None:
            self._relay.post(Reload(what))

    def receive(self, items: list[Item]) -> None:
        """What other nodes sent (the relay's callback)."""
        for item in items:
            if isinstance(item, Frame):
                self.deliver(
                    item.keys,
                    item.frame,
                    item.conversation_id,
                    item.message_id,
                    item.skip,
                    item.audience,
                )
            elif isinstance(item, ConversationChanged):
                if self._conversation_changed is not None:
                    self._conversation_changed(item.conversation_id)
            elif isinstance(item, Reload):
                if self._reload is not None:
                    self._spawn(self._reload(item.what))
            else:
                self._spawn(self._close_all(item.key, item.reason))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def disconnect(self, key: str, reason: str) -> None:
        """Close every socket of ``key`` (revoked credentials) with 4401 and an error
        frame, here and on every other node."""
        if self._relay is not None:
            self._relay.post(Disconnect(key, reason))
        await self._close_all(key, reason)

    async def _close_all(self, key: str, reason: str) -> None:
        for connection in list(self._sockets.get(key, ())):
            if not connection.ws.prepared:
                connection.state = SocketState.CLOSING  # its handshake will find it closed
                continue
            connection.send(server_frames.error(reason, "credentials revoked; sign in again"))
            connection.flush_now()  # the error frame goes out before the close frame
            await connection.ws.close(code=CLOSE_UNAUTHORIZED, message=reason.encode())

    def online(self, key: str) -> bool:
        return key in self._sockets

    def connections(self) -> list[Connection]:
        return [c for sockets in self._sockets.values() for c in sockets]

    def __len__(self) -> int:
        return sum(len(s) for s in self._sockets.values())
