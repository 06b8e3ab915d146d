"""Assignment across nodes: the store decides (``kefu.store.shared_assignment``).

No node sees every agent's socket, so presence lives in the store (renewed by each node's
heartbeat) and every decision is one locked transaction there. This node keeps only what
its last look at the store said: who is online anywhere, who of them takes conversations,
and how many wait, so a widget page asking "is anyone there?" costs no query most times.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from kefu.auth.principal import agent_key
from kefu.chat.assigner import tell_assigned
from kefu.chat.feed import ConversationFeed
from kefu.chat.hub import Hub
from kefu.chat.open_conversations import OpenConversations
from kefu.domain.conversation import Conversation
from kefu.domain.models import Agent
from kefu.observability import metrics
from kefu.ports import Clock
from kefu.store.shared_assignment import SharedAssignments

log = logging.getLogger(__name__)

# How long a look at who is online elsewhere stays good for ``refresh_presence``: every
# widget page view asks, and one query a second per node is cheap for the store.
PRESENCE_FRESH_SECONDS = 1
# How long ``depart`` waits for offline notes still being written, so a stopping node
# does not leave them to the presence TTL yet never hangs on a store that stopped.
DEPART_WAIT_SECONDS = 5


class StoreAssigner:
    def __init__(
        self,
        shared: SharedAssignments,
        hub: Hub,
        clock: Clock,
        conversations: OpenConversations,
        feed: ConversationFeed,
    ) -> None:
        self.shared = shared
        self._hub = hub
        self._clock = clock
        self._conversations = conversations
        self._feed = feed
        # As of the last look: agents with a socket anywhere, and those of them who take
        # conversations (not away, not disabled).
        self._online_anywhere: set[str] = set()
        self._available_anywhere: set[str] = set()
        self._online_checked: datetime | None = None
        self._waiting_anywhere = 0
        self._background: set[asyncio.Task[None]] = set()

    @property
    def queue_length(self) -> int:
        return self._waiting_anywhere

    async def start(self) -> None:
        await self.heartbeat()

    async def heartbeat(self) -> None:
        """Renew this node's agents' presence, learn who is online anywhere, and hand out
        whatever waits (catches up on anything a failed attempt left)."""
        await self.shared.heartbeat(self._clock.now(), self._hub.agent_ids())
        await self._drain()

    async def depart(self) -> None:
        if self._background:
            await asyncio.wait(list(self._background), timeout=DEPART_WAIT_SECONDS)
        await self.shared.depart()

    async def agent_online(self, agent: Agent) -> None:
        await self.shared.arrive(agent.id, self._clock.now())
        self._online_anywhere.add(agent.id)
        if not agent.away:
            self._available_anywhere.add(agent.id)
        await self._drain()

    def agent_offline(self, agent_id: str) -> None:
        # In a task of its own: the socket handler calling this is often being cancelled
        # (the peer left), and the store must still hear of it.
        task = asyncio.create_task(self._leave(agent_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _leave(self, agent_id: str) -> None:
        try:
            await self.shared.leave(agent_id)
            await self._look(self._clock.now())
        except Exception:
            # Presence then lapses after cluster.presence_ttl_seconds, unless the agent
            # has come back online meanwhile (then the row is right).
            log.exception("could not record that agent %s went offline", agent_id)

    async def agent_changed(self, agent: Agent) -> None:
        # The decision reads capacity, disabled and away from the store.
        await self._drain()
        await self._look(self._clock.now())

    async def refresh_presence(self) -> None:
        """Learn who is online on the other nodes now rather than as of the last
        assignment decision (at most once a second: every widget page view asks)."""
        now = self._clock.now()
        checked = self._online_checked
        if checked is None or (now - checked).total_seconds() >= PRESENCE_FRESH_SECONDS:
            await self._look(now)

    async def _look(self, now: datetime) -> None:
        presence = await self.shared.presence(now)
        self._online_anywhere, self._available_anywhere = presence.present, presence.available
        self._online_checked = now

    def is_online(self, agent_id: str) -> bool:
        """Has a socket on this node, or on another as of the last look."""
        return self._hub.online(agent_key(agent_id)) or agent_id in self._online_anywhere

    def anyone_online(self) -> bool:
        # As of the last look at the store; an agent arriving here is added at once.
        return bool(self._available_anywhere)

    async def requested(self, conversation: Conversation) -> None:
        await self._drain()  # it waits in the store already; VIPs are read there

    def taking(self, conversation_id: str, agent_id: str, *, was_waiting: bool) -> None:
        """The store's load is its rows: the transfer's write is the take."""

    async def handed_over(self, previous: str | None) -> None:
        await self._drain()

    async def closed(
        self, conversation_id: str, assignee: str | None, *, was_waiting: bool
    ) -> None:
        await self._drain()

    async def _drain(self) -> None:
        """Let the store hand out waiting conversations, then tell the participants of
        each assignment this node made (the others' sockets through the cluster relay)."""
        drained = await self.shared.drain(self._clock.now())
        self._waiting_anywhere = drained.waiting
        self._available_anywhere = drained.available
        metrics.QUEUE_LENGTH.set(drained.waiting)
        for assignment in drained.assignments:
            self._conversations.forget_cached(assignment.conversation_id)
            self._hub.conversation_changed(assignment.conversation_id)
            conversation = await self._conversations.load(assignment.conversation_id)
            if conversation is None or conversation.assignee_id != assignment.agent_id:
                continue  # closed or moved again since
            tell_assigned(self._hub, self._feed, conversation, assignment.agent_id)
