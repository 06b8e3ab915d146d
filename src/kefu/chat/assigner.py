"""Who gets a waiting conversation: the ``Assigner`` the chat parts ask, and its news.

Two implementations, chosen once when the chat service is built:

- ``LocalAssigner`` (one node): an in-memory ``AssignmentBoard`` knows every agent, their
  load and the queue, and decides at once;
- ``StoreAssigner`` (several nodes sharing PostgreSQL and NATS): no node sees every
  agent, so the store decides under a cluster-wide lock (``store.shared_assignment``) and
  each node learns presence from it.

The rest of the chat service tells the assigner what happened (an agent came or went, a
conversation opened, moved or closed) and never asks which kind it has.
"""

from __future__ import annotations

from typing import Protocol

from kefu.chat import server_frames
from kefu.chat.feed import ConversationFeed
from kefu.chat.hub import Hub
from kefu.chat.open_conversations import participants
from kefu.domain.conversation import Conversation
from kefu.domain.models import Agent


class Assigner(Protocol):
    @property
    def queue_length(self) -> int:
        """Conversations waiting for an agent (anywhere, with several nodes)."""
        ...

    async def start(self) -> None:
        """Learn the load and the queue the store holds (restart-safe)."""
        ...

    async def heartbeat(self) -> None:
        """Periodically: renew what other nodes know of this one, hand out what waits."""
        ...

    async def depart(self) -> None:
        """This node stops: its agents no longer count as online here."""
        ...

    # -- agents -------------------------------------------------------------------------
    async def agent_online(self, agent: Agent) -> None: ...

    def agent_offline(self, agent_id: str) -> None:
        """Called from a socket handler that may be being cancelled: must not await."""
        ...

    async def agent_changed(self, agent: Agent) -> None:
        """Capacity, status or away changed (by an admin, or the agent)."""
        ...

    async def refresh_presence(self) -> None:
        """Learn who is online on other nodes now (a no-op on one node)."""
        ...

    def is_online(self, agent_id: str) -> bool: ...

    def anyone_online(self) -> bool:
        """Is anyone taking conversations (online and not away)?"""
        ...

    # -- conversations --------------------------------------------------------------------
    async def requested(self, conversation: Conversation) -> None:
        """A new conversation waits for an agent."""
        ...

    def taking(self, conversation_id: str, agent_id: str, *, was_waiting: bool) -> None:
        """``agent_id`` is about to be given the conversation by hand (transfer, claim)."""
        ...

    async def handed_over(self, previous: str | None) -> None:
        """A transfer or claim was stored: ``previous`` (if any) has a free slot."""
        ...

    async def closed(
        self, conversation_id: str, assignee: str | None, *, was_waiting: bool
    ) -> None:
        """A close was stored: its assignee's slot (or its queue place) is free."""
        ...


def tell_assigned(
    hub: Hub, feed: ConversationFeed, conversation: Conversation, agent_id: str
) -> None:
    """An assignment the assigner made: the participants and the consoles listing the
    conversation hear of it (other nodes' sockets through the cluster relay)."""
    hub.send(
        participants(conversation),
        server_frames.assigned(conversation.id, agent_id),
        conversation.id,
    )
    feed.changed(conversation, was_waiting=True)
