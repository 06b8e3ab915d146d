"""Assignment on one node: the in-memory ``AssignmentBoard`` decides.

The node sees every agent's socket, so the board holds each online agent's capacity and
load and the waiting queue (VIP lane first), rebuilt from the store at start, and hands
out a conversation the moment a slot frees: no query on the decision itself.
"""

from __future__ import annotations

from kefu.auth.principal import agent_key
from kefu.chat.assigner import tell_assigned
from kefu.chat.feed import ConversationFeed
from kefu.chat.hub import Hub
from kefu.chat.open_conversations import OpenConversations
from kefu.domain.assignment import Assignment, AssignmentBoard
from kefu.domain.conversation import Conversation, ConversationStatus
from kefu.domain.models import Agent
from kefu.observability import metrics
from kefu.ports import Clock
from kefu.store.repositories import Repositories


class LocalAssigner:
    def __init__(
        self,
        repos: Repositories,
        hub: Hub,
        clock: Clock,
        conversations: OpenConversations,
        feed: ConversationFeed,
        default_capacity: int,
    ) -> None:
        self._repos = repos
        self._hub = hub
        self._clock = clock
        self._conversations = conversations
        self._feed = feed
        self._default_capacity = default_capacity
        self._board = AssignmentBoard()

    @property
    def queue_length(self) -> int:
        return self._board.queue_length

    async def start(self) -> None:
        """Rebuild agent load and the waiting queue from the store (restart-safe)."""
        loads = await self._repos.conversations.open_loads()
        for agent in await self._repos.agents.list():
            if not agent.disabled:
                self._board.restore_load(agent.id, self._capacity(agent), loads.get(agent.id, 0))
        for conversation_id in await self._repos.conversations.waiting_ids():
            self._board.enqueue(conversation_id, vip=await self._is_vip(conversation_id))
        metrics.QUEUE_LENGTH.set(self._board.queue_length)

    async def heartbeat(self) -> None:
        """Nothing to renew: no other node needs to know this one's agents."""

    async def depart(self) -> None:
        """Nothing to withdraw: presence lived in this process only."""

    async def agent_online(self, agent: Agent) -> None:
        if agent.away:
            return  # signed in, but takes nothing new until back
        await self._apply(self._board.agent_online(agent.id, self._capacity(agent)))

    def agent_offline(self, agent_id: str) -> None:
        self._board.agent_offline(agent_id)

    async def agent_changed(self, agent: Agent) -> None:
        if agent.disabled or agent.away:
            self._board.agent_offline(agent.id)
            return
        if self._hub.online(agent_key(agent.id)):  # back from away, or changed while online
            await self._apply(self._board.agent_online(agent.id, self._capacity(agent)))
            return
        await self._apply(self._board.set_capacity(agent.id, self._capacity(agent)))

    async def refresh_presence(self) -> None:
        """This node's hub is the whole picture, always current."""

    def is_online(self, agent_id: str) -> bool:
        return self._hub.online(agent_key(agent_id))

    def anyone_online(self) -> bool:
        return self._board.anyone_online()

    async def requested(self, conversation: Conversation) -> None:
        assignment = self._board.request(conversation.id)
        if assignment is not None:
            await self._apply([assignment])
        elif await self._is_vip(conversation.id):
            self._board.promote(conversation.id)  # looked up only when it has to wait
        metrics.QUEUE_LENGTH.set(self._board.queue_length)

    def taking(self, conversation_id: str, agent_id: str, *, was_waiting: bool) -> None:
        if was_waiting:
            self._board.withdraw(conversation_id)
        self._board.take(agent_id)

    async def handed_over(self, previous: str | None) -> None:
        await self._apply(self._board.release(previous))
        metrics.QUEUE_LENGTH.set(self._board.queue_length)

    async def closed(
        self, conversation_id: str, assignee: str | None, *, was_waiting: bool
    ) -> None:
        if was_waiting:
            self._board.withdraw(conversation_id)
        await self._apply(self._board.release(assignee if not was_waiting else None))
        metrics.QUEUE_LENGTH.set(self._board.queue_length)

    def _capacity(self, agent: Agent) -> int:
        return agent.capacity or self._default_capacity

    async def _is_vip(self, conversation_id: str) -> bool:
        return await self._repos.routing.in_vip_lane(conversation_id)

    async def _apply(self, assignments: list[Assignment]) -> None:
        """Store the board's decisions and tell everyone concerned."""
        for assignment in assignments:
            conversation = await self._conversations.load(assignment.conversation_id)
            if conversation is None or conversation.status is not ConversationStatus.WAITING:
                self._board.release(assignment.agent_id)
                continue
            conversation.assign(assignment.agent_id)
            await self._repos.conversations.save_state(
                conversation.id, conversation.status, assignment.agent_id, self._clock.now()
            )
            self._hub.conversation_changed(conversation.id)
            tell_assigned(self._hub, self._feed, conversation, assignment.agent_id)
        if assignments:
            metrics.QUEUE_LENGTH.set(self._board.queue_length)
